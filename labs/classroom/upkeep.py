"""Upkeep that keeps a class running, done by each lab host's worker for the labs it holds:

- a lab nobody has touched for WIRELAB_IDLE_LAB_MINUTES is taken down (its document stays);
- a student's lab is taken down when its exercise's time window closes;
- an exercise with `check_every` has its students' running labs checked that often.

Automatic check rounds do not count as activity.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Max, Q
from django.utils import timezone

from .. import lifecycle
from ..hostside.jobs import note
from ..models import Lab, LabEvent, LabStatus, Operation
from . import attempts
from .exercises import rules_of
from .models import Attempt

log = logging.getLogger(__name__)
UP = (LabStatus.RUNNING, LabStatus.DEGRADED)


def last_activity(lab: Lab):
    """The last time someone did something to the lab: an edit, or a job they asked for."""
    asked = lab.operations.exclude(Q(kind=Operation.Kind.CHECK) & Q(params__automatic=True))
    latest = asked.aggregate(latest=Max("created"))["latest"]
    return max(t for t in (lab.updated, latest) if t is not None)


def _take_down(lab: Lab, why: str) -> bool:
    try:
        lifecycle.request_destroy(lab)
    except lifecycle.OperationRefused:
        return False  # being destroyed already
    note(lab.id, LabEvent.Kind.DEPLOY, why)
    log.info("lab %s: %s", lab.slug, why)
    return True


def stop_idle_labs(labhost: str, now=None) -> list[str]:
    minutes = settings.WIRELAB_IDLE_LAB_MINUTES
    if minutes <= 0:
        return []
    now = now or timezone.now()
    stopped = []
    for lab in Lab.objects.filter(labhost=labhost, status__in=UP, owner__is_staff=False):
        if now - last_activity(lab) >= timedelta(minutes=minutes) and _take_down(
            lab, f"stopped after {minutes} minutes without activity (deploy it again to go on)"
        ):
            stopped.append(lab.slug)
    return stopped


def _running_attempts(labhost: str):
    up = Attempt.objects.filter(lab__labhost=labhost, lab__status__in=UP)
    return up.select_related("lab", "exercise", "student")


def end_closed_exercises(labhost: str, now=None) -> list[str]:
    now = now or timezone.now()
    ended = []
    for attempt in _running_attempts(labhost):
        rules = rules_of(attempt.exercise)
        closes = rules.closes
        if not closes or now < closes or rules.late == "marked":
            continue
        if _take_down(attempt.lab, f"the exercise closed at {closes:%Y-%m-%d %H:%M}"):
            ended.append(attempt.lab.slug)
    return ended


def check_due(labhost: str, now=None) -> list[int]:
    now = now or timezone.now()
    asked = []
    for attempt in _running_attempts(labhost):
        every = rules_of(attempt.exercise).check_every
        if not every or (attempt.checked and now - attempt.checked < timedelta(seconds=every)):
            continue
        if attempts.request_check(attempt, attempt.student, automatic=True, tried=False) is not None:
            asked.append(attempt.id)
    return asked


def classroom_round() -> None:
    labhost = settings.WIRELAB_LABHOST
    stop_idle_labs(labhost)
    end_closed_exercises(labhost)
    check_due(labhost)
