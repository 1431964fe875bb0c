"""Storing lab documents: every write goes through the one `check()`, so no path can store
a lab with errors; reading gives back the stored document itself."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Sum, TextField
from django.db.models.functions import Cast, Length
from django.dispatch import Signal
from django.utils.text import slugify

from labs.images import current_policy
from topology.addressing import Assignments
from topology.document import LabDoc, document_to_data, parse_document
from topology.orchestrator import with_instances
from topology.problems import Problem, TopologyError, error, errors_in
from topology.validation import check

from .models import Lab
from .projection import project

# Sent once a stored lab's new document is committed (lab_tag, version: when it was stored, by):
# the lab's open views (editor, share links) read it again (labs/signals.py).
document_saved = Signal()
Guard = Callable[[Lab, LabDoc], list[Problem]]
GUARDS: list[Guard] = []  # rules on changing a stored lab, added by other apps (a classroom's)


def guard_edits(guard: Guard) -> Guard:
    """Register `guard`: its problems about a stored lab's new document refuse the change."""
    GUARDS.append(guard)
    return guard


def guard_problems(lab: Lab | None, doc: LabDoc) -> list[Problem]:
    """What the registered rules on changing a stored lab say of `doc` as its next version."""
    if lab is None or not lab.pk:
        return []
    return [p for guard in GUARDS for p in guard(lab, doc)]


def storage_problems(owner, lab: Lab | None, size: int) -> list[Problem]:
    """What storing a document of `size` bytes as `lab` (None: a new lab) would take past the
    owner's share: WIRELAB_MAX_LABS_PER_USER labs, WIRELAB_MAX_STORED_BYTES_PER_USER bytes."""
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()  # one write at a time counts
    mine = Lab.objects.filter(owner=owner)
    most_labs, most_bytes = settings.WIRELAB_MAX_LABS_PER_USER, settings.WIRELAB_MAX_STORED_BYTES_PER_USER
    if lab is None and mine.count() >= most_labs:
        return [error("", f"you keep {most_labs} labs, the most one user may: delete one you no longer need")]
    others = mine.exclude(id=lab.id) if lab is not None and lab.pk else mine
    stored = others.aggregate(total=Sum(Length(Cast("document", TextField()))))["total"] or 0
    if stored + size > most_bytes:
        return [
            error(
                "",
                f"your labs would hold {_size(stored + size)} of documents, more than the "
                f"{_size(most_bytes)} one user may keep: delete labs you no longer need",
            )
        ]
    return []


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1_000_000 else f"{n / 1e3:.0f} kB"


def unique_slug(name: str, exclude_id: int | None = None) -> str:
    base = slugify(name)[:100] or "lab"
    slug, n = base, 2
    others = Lab.objects.exclude(id=exclude_id) if exclude_id is not None else Lab.objects.all()
    while others.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def document_version(data: dict | None) -> str:
    """A short digest of a stored document: it changes whenever the document does (an editor
    sends it back with its next save, so a change made meanwhile is never overwritten)."""
    canonical = json.dumps(data or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:20]


def lab_document(lab: Lab, *, instances: bool = False) -> LabDoc:
    """The lab's stored document; with `instances`, its orchestrator's app instances are among
    its nodes, as the lab runs them."""
    doc = parse_document(lab.document or {"name": lab.name})
    return with_instances(doc, lab_assignments(lab).instances) if instances else doc


def lab_assignments(lab: Lab) -> Assignments:
    return Assignments.from_dict(lab.assignments)


@transaction.atomic
def save_document(doc: LabDoc, owner, lab: Lab | None = None, labhost: str = "local") -> tuple[Lab, list]:
    """Store a document as a lab (a new one, or replacing `lab`'s); returns it and its warnings.

    Refuses a document with errors (TopologyError with every problem); automatic addresses
    and ports handed out before are kept where they still fit.
    """
    previous = lab_assignments(lab) if lab else None
    assignments, problems = check(doc, previous, current_policy())
    problems += guard_problems(lab, doc)
    data = document_to_data(doc)
    if not errors_in(problems):
        problems += storage_problems(owner, lab, len(json.dumps(data)))
    if errors_in(problems):
        raise TopologyError(problems)
    existed = lab is not None
    if lab is None:
        lab = Lab(owner=owner, slug=unique_slug(doc.name), labhost=labhost)
    lab.name = doc.name
    lab.description = doc.description
    lab.document = data
    lab.assignments = assignments.as_dict()
    lab.save()
    project(lab, lab.document)
    if existed:
        tag, version = lab.tag, lab.updated.isoformat()
        transaction.on_commit(lambda: document_saved.send(Lab, lab_tag=tag, version=version))
    return lab, problems


def edit_document(lab: Lab, change: Callable[[dict], None]) -> tuple[Lab, list[Problem]]:
    """Apply `change` to a copy of the lab's document data, check it and store it.

    `change` edits plain data in place; it may raise TopologyError for a refused edit.
    The lab row is locked meanwhile so two edits never lose one another.
    """
    with transaction.atomic():
        lab = Lab.objects.select_for_update().get(id=lab.id)
        data = document_to_data(lab_document(lab))
        change(data)
        return save_document(parse_document(data), lab.owner, lab)
