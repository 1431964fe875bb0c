"""One way in for lab documents: Wirelab's own format or a containerlab file.

Returns the parsed document with every problem found (containerlab's warnings first),
or raises TopologyError when the text cannot be read as a lab at all.
"""

from __future__ import annotations

from .containerlab import import_containerlab, looks_like_containerlab
from .document import LabDoc, load_text, parse_document
from .images import ImagePolicy
from .problems import Problem
from .validation import validate


def read_lab(
    text: str | bytes, max_bytes: int = 1_000_000, images: ImagePolicy | None = None
) -> tuple[LabDoc, list[Problem]]:
    data = load_text(text, max_bytes)
    if looks_like_containerlab(data):
        doc, notes = import_containerlab(data)
    else:
        doc, notes = parse_document(data), []
    return doc, notes + validate(doc, images=images)
