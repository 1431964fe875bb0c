"""Check results: scored, stored on the attempt, and sent live to the student's lab page and
to the course's teachers."""

from __future__ import annotations

import contextlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from topology.exercise import CheckDoc, public_result

from .. import lifecycle
from ..live.state import group_name
from .exercises import rules_of
from .models import Attempt, Exercise

log = logging.getLogger(__name__)


def course_group(course_id: int) -> str:
    return f"course.{course_id}"


def score(results: list[dict]) -> float:
    """The weighted share of checks that passed (no weight at all: 0)."""
    total = sum(r.get("weight", 1) for r in results)
    return sum(r.get("weight", 1) for r in results if r["passed"]) / total if total else 0.0


def summary(attempt: Attempt, teacher: bool = False) -> dict:
    """An attempt as the student's page shows it, or (`teacher`) as the course's dashboard
    does: with each check's own title and message, which may tell what it wants."""
    lab = attempt.lab
    results = attempt.results if teacher else for_student(attempt.exercise, attempt.results)
    return {
        "id": attempt.id,
        "exercise": attempt.exercise_id,
        "student": attempt.student.username,
        "lab": lab.id,
        "lab_status": lab.status,
        "lab_reason": lab.status_reason,
        "queue": lifecycle.queue_position(lab) if lab.status == "deploying" else None,
        "results": results,
        "score": round(attempt.score, 4),
        "checking": attempt.checking,
        "checked": attempt.checked.isoformat() if attempt.checked else None,
        "late": attempt.late,
    }


def for_student(exercise: Exercise, results: list[dict]) -> list[dict]:
    """Results as a student may read them (`topology.exercise.public_result`)."""
    checks = rules_of(exercise).checks

    def check_of(result: dict) -> CheckDoc | None:
        index = result.get("index", -1)
        return checks[index] if isinstance(index, int) and 0 <= index < len(checks) else None

    return [public_result(check_of(r), r) for r in results]


def record(attempt_id: int, results: list[dict]) -> None:
    """Store a finished round of checks and tell everyone watching; a round after the
    exercise closed (which it lets happen) makes the attempt late for good."""
    now = timezone.now()
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise").first()
    late = attempt is not None and (rules_of(attempt.exercise).closes or now) < now
    Attempt.objects.filter(id=attempt_id).update(
        results=results, score=score(results), checking=False, checked=now, **({"late": True} if late else {})
    )
    announce(attempt_id)


def record_failure(attempt_id: int, reason: str) -> None:
    """A round that could not run: the checks say why, none passes."""
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise").first()
    if attempt is None:
        return
    results = [
        {"index": i, "title": c.title(), "passed": False, "message": f"not checked: {reason}",
         "node": "", "weight": c.weight}
        for i, c in enumerate(rules_of(attempt.exercise).checks)
    ]  # fmt: skip
    record(attempt_id, results)


def announce(attempt_id: int) -> None:
    """Send the attempt's state to the course's dashboard and to the student's lab page."""
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise", "lab", "student").first()
    if attempt is None:
        return
    shown = {"type": "course.attempt", "attempt": summary(attempt, teacher=True)}
    _send(course_group(attempt.exercise.course_id), shown)
    _send(
        group_name(attempt.lab.tag), {"type": "lab.checks", "payload": {"type": "checks", **summary(attempt)}}
    )


def announce_member(course_id: int, username: str) -> None:
    """A student joined: the dashboard shows their row before they start anything."""
    _send(course_group(course_id), {"type": "course.member", "student": username})


def each_result(lab_tag: str, attempt_id: int, result: dict, exercise: Exercise) -> None:
    """One check's result, sent to the lab's page (the student's) as it comes; the round is
    stored when it ends."""
    (shown,) = for_student(exercise, [result])
    payload = {"type": "check.result", "attempt": attempt_id, "result": shown}
    _send(group_name(lab_tag), {"type": "lab.checks", "payload": payload})


def _send(group: str, message: dict) -> None:
    with contextlib.suppress(Exception):  # no channel layer: nobody is watching
        async_to_sync(get_channel_layer().group_send)(group, message)
