"""A student's lab for an exercise: start it from the template, reset it, check it."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from topology.exercise import plan_checks

from .. import lifecycle
from ..labfiles import copy_of
from ..models import Lab, LabStatus, Operation
from ..store.documents import save_document
from . import grading
from .draws import fresh_draw
from .exercises import rules_of, solution_of, template_of
from .models import Attempt, Exercise
from .roles import role_in

CHECKABLE = (LabStatus.RUNNING, LabStatus.DEGRADED)


class AttemptRefused(Exception):
    """What a student asked for cannot be done now; the message says why."""


def window_problem(exercise: Exercise) -> str | None:
    """Why a student's work on the exercise does not count now: it has not opened, or it has
    closed and refuses late work."""
    rules, now = rules_of(exercise), timezone.now()
    if rules.opens and now < rules.opens:
        return f"this exercise opens at {rules.opens:%Y-%m-%d %H:%M %Z}"
    if rules.late == "refused" and is_closed(exercise, now):
        return f"this exercise closed at {rules.closes:%Y-%m-%d %H:%M %Z}"
    return None


def is_closed(exercise: Exercise, now=None) -> bool:
    closes = rules_of(exercise).closes
    return closes is not None and (now or timezone.now()) >= closes


def window_of_lab(lab: Lab) -> str | None:
    """Why a student's lab may not start now (its exercise's window), or None."""
    attempt = Attempt.objects.filter(lab=lab).select_related("exercise").first()
    return window_problem(attempt.exercise) if attempt and not attempt.solution else None


def start(
    exercise: Exercise, student, deploy: bool = True, enqueue: bool = True, window: bool = True
) -> tuple[Attempt, Operation | None]:
    """The student's lab for the exercise (made from the template the first time), deployed
    unless it runs already. Raises AttemptRefused, or LimitReached from the quota."""
    if role_in(exercise.course, student) is None:
        raise AttemptRefused("you are not in this course")
    if window and (why := window_problem(exercise)) is not None:
        raise AttemptRefused(why)
    attempt = Attempt.objects.filter(exercise=exercise, student=student).first()
    if attempt is None:
        try:
            with transaction.atomic():
                number = fresh_draw(exercise, student, rules_of(exercise).faults)
                attempt = Attempt(exercise=exercise, student=student, version=exercise.version, draw=number)
                doc = template_of(exercise, student, number)
                name = f"{doc.name} ({student.username})"[:100]
                attempt.lab = copy_of(doc.model_copy(update={"name": name}), {}, student)
                attempt.save()
        except IntegrityError:  # pressed twice at once: the other press made it
            attempt = Attempt.objects.get(exercise=exercise, student=student)
    op = None
    if deploy and attempt.lab.status not in (*CHECKABLE, LabStatus.DEPLOYING):
        op = lifecycle.request_deploy(attempt.lab, student, enqueue=enqueue)
    grading.announce(attempt.id)
    return attempt, op


def try_solution(exercise: Exercise, teacher, enqueue: bool = True) -> tuple[Attempt, Operation]:
    """The teacher's own lab for the exercise, holding its solution and deployed: the round its
    deploy asks for shows every check green, and keeps the ways the solution's probes take."""
    solution = solution_of(exercise, teacher)
    if solution is None:
        raise AttemptRefused("this exercise has no solution: add one under `exercise.solution`")
    attempt, _ = start(exercise, teacher, deploy=False, enqueue=enqueue, window=False)
    lab = Lab.objects.get(id=attempt.lab_id)
    with transaction.atomic():
        Attempt.objects.filter(id=attempt.id).update(
            solution=True, version=exercise.version, results=[], score=0.0, checking=False, checked=None
        )
        save_document(solution.model_copy(update={"name": lab.name}), teacher, lab)
    attempt.refresh_from_db()
    op = lifecycle.request_deploy(lab, teacher, enqueue=enqueue)
    grading.announce(attempt.id)
    return attempt, op


def reset(attempt: Attempt, user, enqueue: bool = True) -> Operation | None:
    """Put the template back into the student's lab (redeployed if it runs)."""
    exercise = attempt.exercise
    lab = Lab.objects.get(id=attempt.lab_id)
    doc = template_of(exercise, attempt.student).model_copy(update={"name": lab.name})
    save_document(doc, lab.owner, lab)
    Attempt.objects.filter(id=attempt.id).update(
        version=exercise.version, results=[], score=0.0, checking=False, checked=None, solution=False
    )
    op = None
    if lab.status in CHECKABLE:
        op = lifecycle.request_deploy(lab, user, enqueue=enqueue)
    grading.announce(attempt.id)
    return op


def request_check(
    attempt: Attempt, user, automatic: bool = False, enqueue: bool = True, tried: bool = True
) -> Operation | None:
    """Queue a round of the exercise's checks on the student's running lab. Automatic rounds
    are skipped (None) when the lab is not running or a round is already on its way. A round
    that is not one of the student's `tried` (a periodic one) earns no hints when it fails."""
    lab = Lab.objects.get(id=attempt.lab_id)
    if not attempt.solution and (why := window_problem(attempt.exercise)) is not None:
        if automatic:
            return None
        raise AttemptRefused(why)
    if lab.status not in CHECKABLE:
        if automatic:
            return None
        raise AttemptRefused(f"your lab is {lab.status}: deploy it first, then check")
    pending = lab.operations.filter(
        kind=Operation.Kind.CHECK, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).first()
    if pending is not None:
        if automatic:
            return None
        return pending
    exercise = attempt.exercise
    rules = rules_of(exercise, attempt.student)
    checks = plan_checks(rules, grading.references_of(exercise), solution=attempt.solution)
    params = {"attempt": attempt.id, "checks": checks, "automatic": automatic, "tried": tried}
    op = lifecycle.request_job(lab, Operation.Kind.CHECK, params, user or lab.owner, enqueue=enqueue)
    Attempt.objects.filter(id=attempt.id).update(checking=True)
    grading.announce(attempt.id)
    return op


def course_quota_problem(lab: Lab) -> str | None:
    """Why a student's lab may not start now: its course has its limit of labs running."""
    attempt = Attempt.objects.filter(lab=lab).select_related("exercise__course").first()
    limit = attempt.exercise.course.max_running_labs if attempt else 0
    if attempt is None or not limit:
        return None
    course = attempt.exercise.course
    running = (
        Lab.objects.filter(attempt__exercise__course=course)
        .exclude(id=lab.id)
        .exclude(status__in=lifecycle.IDLE)
        .count()
    )
    if running >= limit:
        wait = "wait for one to stop, then deploy"
        return f"{course.name} has {running} labs running and may have {limit}: {wait}"
    return None
