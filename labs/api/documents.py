"""Reading a lab document from a request body: raw YAML/JSON, a JSON wrapper, or a file."""

from __future__ import annotations

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser

from topology.problems import TopologyError, error


class RawDocumentParser(BaseParser):
    """Accepts YAML or plain text bodies as they are; the view reads them itself."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return {}


def document_text(request) -> str | bytes:
    """The document in a request: an uploaded `file`, `{"document": "..."}`, or the body."""
    limit = settings.WIRELAB_MAX_DOCUMENT_BYTES
    content_type = request.content_type or ""
    if content_type.startswith("multipart/form-data"):
        upload = request.FILES.get("file")
        if upload is None:
            raise ParseError("send the document as a form field named 'file'")
        if upload.size > limit:
            raise TopologyError(
                [error("", f"the document is {upload.size} bytes; the limit is {limit} bytes")]
            )
        return upload.read()
    body = request.body
    if content_type.startswith("application/json"):
        try:
            data = json.loads(body or b"null")
        except (ValueError, RecursionError):
            raise TopologyError([error("", "the request body is not valid JSON")]) from None
        if isinstance(data, dict) and isinstance(data.get("document"), str):
            return data["document"]
    if not body:
        raise TopologyError([error("", "the request has no document")])
    return body
