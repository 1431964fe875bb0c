"""The record of an attempt: every edit (with the lab as it then was), deploy and stop, round of
checks, trace, command and console session, with its time; what changed between two of its
documents; and what a student changed since their checks last passed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .exercises import template_of
from .models import Attempt, AttemptEvent

MAX_EVENTS = 2000  # per attempt: the oldest go first (the first edit's document is the start's)
COALESCE = timedelta(seconds=20)  # edits this close together are one moment (a node dragged)


def note(attempt_id: int, kind: str, summary: str, **fields: Any) -> None:
    """Add a moment to the attempt's record (an edit soon after another edit replaces it)."""
    with transaction.atomic():
        last = AttemptEvent.objects.select_for_update().filter(attempt_id=attempt_id).order_by("-id").first()
        close = last is not None and last.kind == kind and timezone.now() - last.time < COALESCE
        if kind == AttemptEvent.Kind.EDIT and close and last is not None:
            before = _document_before(attempt_id, last.id)
            last.summary = changes_in(before, fields["document"])[:300] if before else summary
            last.document = fields["document"]
            last.save(update_fields=["summary", "document", "time"])
            return
        AttemptEvent.objects.create(attempt_id=attempt_id, kind=kind, summary=summary[:300], **fields)
        stale = AttemptEvent.objects.filter(attempt_id=attempt_id).order_by("-id")[MAX_EVENTS:]
        AttemptEvent.objects.filter(id__in=list(stale.values_list("id", flat=True))).delete()


def edited(attempt: Attempt, data: dict) -> None:
    before = document_at(attempt, None)
    note(attempt.id, AttemptEvent.Kind.EDIT, changes_in(before, data) or "no change", document=data)


def document_at(attempt: Attempt, event_id: int | None) -> dict:
    """The attempt's lab document as it was at an event (None: the last one recorded)."""
    edits = AttemptEvent.objects.filter(attempt=attempt, kind=AttemptEvent.Kind.EDIT)
    if event_id is not None:
        edits = edits.filter(id__lte=event_id)
    last = edits.order_by("-id").only("document").first()
    if last is not None and last.document is not None:
        return last.document
    from topology.document import document_to_data

    return document_to_data(template_of(attempt.exercise, attempt.student, attempt.draw))


def _document_before(attempt_id: int, event_id: int) -> dict | None:
    earlier = (
        AttemptEvent.objects.filter(attempt_id=attempt_id, kind=AttemptEvent.Kind.EDIT, id__lt=event_id)
        .order_by("-id")
        .only("document")
        .first()
    )
    return earlier.document if earlier is not None else None


def changed_since_passed(attempt: Attempt) -> list[str]:
    """What the student changed in their lab since the last round in which every check passed
    (nothing: they never passed, or pass now)."""
    if attempt.first_passed is None or attempt.score >= 1:
        return []
    passed = (
        AttemptEvent.objects.filter(attempt=attempt, kind=AttemptEvent.Kind.CHECK, score__gte=1)
        .order_by("-id")
        .first()
    )
    if passed is None:
        return []
    return changes_list(document_at(attempt, passed.id), attempt.lab.document)


def changes_in(before: dict, after: dict) -> str:
    return "; ".join(changes_list(before, after))


def changes_list(before: dict, after: dict) -> list[str]:
    """What differs between two lab documents, part by part (places on the diagram aside)."""
    out: list[str] = []
    for part, word in (("nodes", ""), ("networks", "network "), ("services", "service ")):
        old, new = before.get(part) or {}, after.get(part) or {}
        out += [f"added {word}{name}" for name in new if name not in old]
        out += [f"removed {word}{name}" for name in old if name not in new]
        out += [
            f"changed {word}{name} ({', '.join(fields)})"
            for name in new
            if name in old and (fields := _fields_changed(old[name], new[name]))
        ]
    old_links = {" -- ".join(sorted(link["endpoints"])) for link in before.get("links") or []}
    new_links = {" -- ".join(sorted(link["endpoints"])) for link in after.get("links") or []}
    out += [f"added cable {link}" for link in sorted(new_links - old_links)]
    out += [f"removed cable {link}" for link in sorted(old_links - new_links)]
    return out


def _fields_changed(old: Any, new: Any) -> list[str]:
    if not isinstance(old, dict) or not isinstance(new, dict):
        return ["all"] if old != new else []
    return sorted(k for k in old.keys() | new.keys() if k != "position" and old.get(k) != new.get(k))


def operation_summary(kind: str, params: dict, status: str, who: str) -> str | None:
    """An ended job of a student's lab, as a line of the attempt's record (None: not one)."""
    said = _job_words(kind, params)
    if said is None:
        return None
    return said + (f" by {who}" if who else "") + ("" if status == "succeeded" else " (failed)")


def _job_words(kind: str, params: dict) -> str | None:
    command = params.get("command") or []
    line = command[-1] if len(command) == 3 and command[:2] == ["sh", "-c"] else " ".join(map(str, command))
    ends = ", ".join(":".join(end) for end in params.get("ends", []))
    words = {
        "deploy": "deployed",
        "destroy": "stopped",
        "exec": f"on {params.get('node')}: {line[:200]}",
        "trace": f"traced {params.get('node')} -> {params.get('target')}",
        "cable": f"cable {ends} {'plugged' if params.get('plugged') else 'pulled'}",
        "node": f"{params.get('action')} {params.get('node')}",
    }
    return words.get(kind)


KIND_OF_JOB = {
    "deploy": "lab",
    "destroy": "lab",
    "exec": "command",
    "trace": "trace",
    "cable": "lab",
    "node": "lab",
}
