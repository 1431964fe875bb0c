"""Lab files in and out: import, export, duplicate, replace and check a lab's document, as the API,
the pages and the CLI do it."""

from __future__ import annotations

import yaml
from django.conf import settings
from django.db import transaction

from topology.containerlab import to_containerlab
from topology.dockerrun import docker_script
from topology.document import LabDoc, dump_document
from topology.importing import read_lab
from topology.kathara import to_kathara, zip_files
from topology.problems import Problem, TopologyError, errors_in
from topology.validation import validate

from .images import current_policy
from .models import Lab
from .store.documents import document_version, guard_problems, lab_document, save_document


def max_document_bytes() -> int:
    return settings.WIRELAB_MAX_DOCUMENT_BYTES


def check_text(text: str | bytes, lab: Lab | None = None) -> list[Problem]:
    """Every problem of a document, without storing anything; with `lab`, as that lab's next
    version: the rules on changing it (an exercise's locks and kinds) too, as saving would say."""
    try:
        doc, problems = read_lab(text, max_document_bytes(), current_policy())
    except TopologyError as exc:
        return exc.problems
    return problems + guard_problems(lab, doc)


def _read_valid(text: str | bytes):
    doc, problems = read_lab(text, max_document_bytes(), current_policy())
    if errors_in(problems):
        raise TopologyError(problems)
    return doc, problems


def import_lab(text: str | bytes, owner) -> tuple[Lab, list[Problem]]:
    """Store a document as a new lab of `owner`; raises TopologyError on errors."""
    doc, notes = _read_valid(text)
    lab, _ = save_document(doc, owner, labhost=settings.WIRELAB_LABHOST)
    return lab, notes


class StaleDocument(Exception):
    """The lab's document changed since the version a save was based on."""


def replace_lab(lab: Lab, text: str | bytes, based_on: str | None = None) -> tuple[Lab, list[Problem]]:
    """Replace a lab's topology with a document's, keeping addresses given before; with
    `based_on` (a `document_version`), only if the stored document is still that one."""
    doc, notes = _read_valid(text)
    with transaction.atomic():
        locked = Lab.objects.select_for_update().get(id=lab.id)
        if based_on and document_version(locked.document) != based_on:
            raise StaleDocument("the lab was changed meanwhile (a command typed in it, or another page)")
        lab, _ = save_document(doc, locked.owner, locked)
    return lab, notes


def import_or_replace(text: str | bytes, owner) -> tuple[Lab, list[Problem], bool]:
    """Replace `owner`'s lab of the document's name, or create it; says if it was created."""
    doc, notes = _read_valid(text)
    existing = Lab.objects.filter(owner=owner, name=doc.name).first()
    if existing is not None and lab_document(existing) == doc:
        return existing, notes, False
    lab, _ = save_document(doc, owner, existing, settings.WIRELAB_LABHOST)
    return lab, notes, existing is None


def duplicate_lab(lab: Lab, owner, name: str | None = None) -> Lab:
    """A new, undeployed lab of `owner` with the same document (and so the same addresses)."""
    doc = lab_document(lab)
    renamed = doc.model_copy(update={"name": name or f"{doc.name} (copy)"[:100]})
    return copy_of(renamed, lab.assignments, owner)


def copy_of(doc: LabDoc, assignments: dict, owner) -> Lab:
    """A new, undeployed lab of `owner` with this document and these addresses (and, when they
    have none, the orchestrator's placement its save made, so the diagram shows its instances)."""
    copy, _ = save_document(doc, owner, labhost=settings.WIRELAB_LABHOST)
    placed = (copy.assignments or {}).get("instances")
    copy.assignments = {**({"instances": placed} if placed else {}), **assignments}
    copy.save(update_fields=["assignments"])
    return copy


EXPORT_FORMATS = ("yaml", "json", "containerlab", "kathara", "docker")


def export_lab(lab: Lab, fmt: str = "yaml") -> str | bytes:
    """The lab as a Wirelab document (yaml, json), a containerlab file, or a zipped Kathará
    folder; what a peer's format cannot hold is said in comments at the top."""
    doc = lab_document(lab)
    addresses = dict((lab.assignments or {}).get("interfaces", {}))
    if fmt == "containerlab":
        data, notes = to_containerlab(doc, addresses)
        return _said(notes) + yaml.safe_dump(data, sort_keys=False)
    if fmt == "docker":
        return docker_script(doc)
    if fmt == "kathara":
        files, notes = to_kathara(doc, addresses)
        files["lab.conf"] = _said(notes) + files["lab.conf"]
        return zip_files(files, lab.slug)
    return dump_document(doc, "json" if fmt == "json" else "yaml")


def _said(notes: list[Problem]) -> str:
    return "".join(f"# left out: {n.path + ': ' if n.path else ''}{n.message}\n" for n in notes)


def lab_problems(lab: Lab) -> list[Problem]:
    return validate(lab_document(lab), images=current_policy())
