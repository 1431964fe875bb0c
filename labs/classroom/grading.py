"""Check results: scored, stored on the attempt, and sent live to the student's lab page and
to the course's teachers."""

from __future__ import annotations

import contextlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.utils import timezone

from topology.exercise import CheckDoc, public_result

from .. import lifecycle
from ..live.state import group_name
from . import timeline
from .draws import values_of
from .exercises import faults_of, rules_of
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
    results = attempt.results if teacher else for_student(attempt, attempt.results)
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
        "first_passed": attempt.first_passed.isoformat() if attempt.first_passed else None,
        "changed_since_passed": timeline.changed_since_passed(attempt),
        **(
            {
                "hints_used": hints_used(attempt),
                "solution": attempt.solution,
                "variant": values_of(attempt.exercise, attempt.student),
                "faults": faults_of(attempt.exercise, attempt.student),
            }
            if teacher
            else {}
        ),
    }


def for_student(attempt: Attempt, results: list[dict]) -> list[dict]:
    """Results as a student may read them (`topology.exercise.public_result`), each with the
    hints its failed tries and the time since the start have earned."""
    checks = rules_of(attempt.exercise, attempt.student).checks
    shown = []
    for result in results:
        index = result.get("index", -1)
        check = checks[index] if isinstance(index, int) and 0 <= index < len(checks) else None
        shown.append(public_result(check, result, _revealed(attempt, index, check)))
    return shown


def hints_used(attempt: Attempt) -> list[int]:
    """How many of its hints each check has shown the student."""
    checks = rules_of(attempt.exercise, attempt.student).checks
    return [len(_revealed(attempt, i, check)) for i, check in enumerate(checks)]


def _revealed(attempt: Attempt, index: int, check: CheckDoc | None) -> list[str]:
    if check is None or not check.hints:
        return []
    minutes = (timezone.now() - attempt.started).total_seconds() / 60 if attempt.started else 0.0
    return check.revealed(int(attempt.failures.get(str(index), 0)), minutes)


def record(attempt_id: int, results: list[dict], tried: bool = True) -> None:
    """Store a finished round of checks and tell everyone watching. A round that is one of
    the student's tries (not a periodic one) counts each failed check towards its hints; a
    round after the exercise closed (which it lets happen) makes the attempt late for good;
    a round of the solution's lab keeps the ways its probes took, as the exercise's reference."""
    now = timezone.now()
    with transaction.atomic():
        attempt = Attempt.objects.select_for_update().filter(id=attempt_id).select_related("exercise").first()
        if attempt is None:
            return
        rules = rules_of(attempt.exercise)
        attempt.results = [{k: v for k, v in r.items() if k != "journey"} for r in results]
        attempt.score, attempt.checking, attempt.checked = score(results), False, now
        attempt.late = attempt.late or (rules.closes or now) < now
        if attempt.first_passed is None and results and attempt.score == 1:
            attempt.first_passed = now
        if tried:
            for r in results:
                if not r["passed"]:
                    attempt.failures[str(r["index"])] = int(attempt.failures.get(str(r["index"]), 0)) + 1
        attempt.save(
            update_fields=["results", "score", "checking", "checked", "late", "first_passed", "failures"]
        )
        if attempt.solution:
            _keep_references(attempt.exercise, results)
        passed = sum(1 for r in results if r["passed"])
        timeline.note(attempt_id, "check", f"{passed} of {len(results)} checks pass", score=attempt.score)
    announce(attempt_id)


def _keep_references(exercise: Exercise, results: list[dict]) -> None:
    """The ways the solution's probes took to their targets, kept for this version of the
    exercise (a check whose probe failed in the solution keeps none)."""
    journeys = {str(r["index"]): r["journey"] for r in results if r["passed"] and r.get("journey")}
    kept = exercise.references if exercise.references.get("version") == exercise.version else {}
    checks = {**kept.get("checks", {}), **journeys}
    Exercise.objects.filter(id=exercise.id, version=exercise.version).update(
        references={"version": exercise.version, "checks": checks}
    )


def references_of(exercise: Exercise) -> dict[str, list]:
    """The solution's journeys by check index, if they were taken on this version (read now:
    a solution's round may have ended since `exercise` was read)."""
    kept, version = Exercise.objects.filter(id=exercise.id).values_list("references", "version").get()
    return kept.get("checks", {}) if kept and kept.get("version") == version else {}


def record_failure(attempt_id: int, reason: str) -> None:
    """A round that could not run: the checks say why, none passes."""
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise").first()
    if attempt is None:
        return
    results = [
        {"index": i, "title": c.title(), "passed": False, "message": f"not checked: {reason}",
         "node": "", "weight": c.weight}
        for i, c in enumerate(rules_of(attempt.exercise, attempt.student).checks)
    ]  # fmt: skip
    record(attempt_id, results, tried=False)


def announce(attempt_id: int) -> None:
    """Send the attempt's state to the course's dashboard and to the student's lab page."""
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise", "lab", "student").first()
    if attempt is None:
        return
    shown = {"type": "course.attempt", "attempt": summary(attempt, teacher=True)}
    _send(course_group(attempt.exercise.course_id), shown)
    mine = summary(attempt, teacher=attempt.solution)  # the solution's lab is its teacher's
    _send(group_name(attempt.lab.tag), {"type": "lab.checks", "payload": {"type": "checks", **mine}})


def announce_member(course_id: int, username: str) -> None:
    """A student joined: the dashboard shows their row before they start anything."""
    _send(course_group(course_id), {"type": "course.member", "student": username})


def each_result(lab_tag: str, attempt: Attempt, result: dict) -> None:
    """One check's result, sent to the lab's page (the student's) as it comes; the round is
    stored when it ends."""
    (shown,) = [result] if attempt.solution else for_student(attempt, [result])
    payload = {"type": "check.result", "attempt": attempt.id, "result": shown}
    _send(group_name(lab_tag), {"type": "lab.checks", "payload": payload})


def _send(group: str, message: dict) -> None:
    with contextlib.suppress(Exception):  # no channel layer: nobody is watching
        async_to_sync(get_channel_layer().group_send)(group, message)
