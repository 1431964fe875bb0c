"""One way in for lab documents: Wirelab's own format, a containerlab file, or a Kathará lab
(a directory's files, or a zip of them).

Returns the parsed document with every problem found (the importer's warnings first),
or raises TopologyError when the text cannot be read as a lab at all.
"""

from __future__ import annotations

import re

from .containerlab import import_containerlab, looks_like_containerlab, refuse_template, substitute
from .document import LabDoc, load_text, parse_document
from .images import ImagePolicy
from .kathara import files_from_zip, import_kathara
from .problems import Problem, TopologyError, error
from .validation import validate

CONTAINERLAB_TOP = re.compile(r"^topology:", re.M)
ZIP_MAGIC = b"PK\x03\x04"  # a zipped Kathará lab folder


def read_lab(
    text: str | bytes, max_bytes: int = 1_000_000, images: ImagePolicy | None = None
) -> tuple[LabDoc, list[Problem]]:
    if isinstance(text, bytes) and text.startswith(ZIP_MAGIC):
        if len(text) > max_bytes:
            raise TopologyError(
                [error("", f"the archive is {len(text)} bytes; the limit is {max_bytes} bytes")]
            )
        return read_lab_files(files_from_zip(text), images)
    notes: list[Problem] = []
    source = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
    if CONTAINERLAB_TOP.search(source):
        # containerlab expands variables in the text, before reading it as YAML
        refuse_template(source)
        if "${" in source:
            text, notes = substitute(source)
    data = load_text(text, max_bytes)
    if looks_like_containerlab(data):
        doc, more = import_containerlab(data)
        notes += more
    else:
        doc, notes = parse_document(data), []
    return doc, notes + validate(doc, images=images)


def read_lab_files(
    files: dict[str, bytes], images: ImagePolicy | None = None
) -> tuple[LabDoc, list[Problem]]:
    """A Kathará lab from its files (paths relative to the lab's folder)."""
    doc, notes = import_kathara(files)
    return doc, notes + validate(doc, images=images)
