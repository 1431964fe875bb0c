"""A course's life in an LMS (LTI 1.3 Advantage, through PyLTI1p3): who a launch signs in, which
course and exercise it opens, the class list the LMS keeps (NRPS), and scores sent back to the
LMS's gradebook (AGS) as checks change them.

Platforms are registered by an admin (*LTI tools* in the admin: issuer, client id, the
platform's login, token and key set addresses, and the tool key Wirelab signs with).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading

import requests
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone
from pylti1p3.assignments_grades import AssignmentsGradesService
from pylti1p3.contrib.django import DjangoDbToolConf
from pylti1p3.grade import Grade
from pylti1p3.service_connector import ServiceConnector

from .courses import create_course
from .models import Attempt, Course, LtiCourse, LtiGrade, LtiIdentity, Membership
from .roles import make_teacher

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
TEACHING_ROLES = ("#Instructor", "#Administrator", "#ContentDeveloper", "/Instructor", "/Administrator")
MAX_ROSTER = 1000
TIMEOUT = 10  # seconds for any call to the LMS


class LaunchRefused(Exception):
    """A launch that cannot go on; the message says why, for the person launching."""


class BoundedSession(requests.Session):
    """Calls to an LMS that end: each has a timeout unless it sets one."""

    def request(self, *args, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", TIMEOUT)
        return super().request(*args, **kwargs)


def tool_conf() -> DjangoDbToolConf:
    return DjangoDbToolConf()


def teaches(launch: dict) -> bool:
    return any(role.endswith(TEACHING_ROLES) for role in launch.get(CLAIM + "roles", []))


def person(tool, launch: dict):
    """The user an LMS person is here, made the first time (named after them, no password:
    they come in through the LMS)."""
    sub = str(launch["sub"])
    found = LtiIdentity.objects.filter(tool=tool, sub=sub).select_related("user").first()
    if found is not None:
        return found.user
    return _new_person(tool, sub, launch.get("name") or launch.get("given_name") or launch.get("email") or "")


def _new_person(tool, sub: str, name: str):
    base = re.sub(r"[^\w.@+-]", "", name.split("@", maxsplit=1)[0].replace(" ", "."))[:30] or "student"
    users = get_user_model()
    for n in range(1000):
        username = base if n == 0 else f"{base}{n + 1}"
        try:
            with transaction.atomic():
                user = users.objects.create_user(username)
                LtiIdentity.objects.create(tool=tool, sub=sub, user=user)
                return user
        except IntegrityError:
            found = LtiIdentity.objects.filter(tool=tool, sub=sub).select_related("user").first()
            if found is not None:  # made meanwhile by another launch
                return found.user
    raise LaunchRefused("no free user name for this person")


def course_of(tool, launch: dict, user) -> Course:
    """The course an LMS course plays in: made by its first teacher's launch, named after it."""
    context = launch.get(CLAIM + "context") or {}
    context_id = str(context.get("id") or "")
    if not context_id:
        raise LaunchRefused("the LMS sent no course with this launch")
    found = LtiCourse.objects.filter(tool=tool, context_id=context_id).select_related("course").first()
    if found is not None:
        return found.course
    if not teaches(launch):
        raise LaunchRefused(
            "your teacher has not opened this course in Wirelab yet: try again once they have"
        )
    make_teacher(user)
    with transaction.atomic():
        course = create_course(str(context.get("title") or context.get("label") or "A course")[:100], user)
        LtiCourse.objects.create(tool=tool, context_id=context_id, course=course)
    return course


def member(course: Course, user, teacher: bool) -> None:
    role = Membership.Role.TEACHER if teacher else Membership.Role.STUDENT
    if teacher:
        make_teacher(user)
    Membership.objects.update_or_create(course=course, user=user, defaults={"role": role})


def roster(message, tool, course: Course) -> int:
    """The LMS's class list, enrolled: each learner made a student of the course (NRPS).
    `message` is the instructor's launch, which names the LMS's membership service."""
    members = message.get_nrps().get_members()
    made = 0
    for one in members[:MAX_ROSTER]:
        if one.get("status", "Active") != "Active" or teaches({CLAIM + "roles": one.get("roles", [])}):
            continue
        user = person(
            tool, {"sub": one["user_id"], **{k: one[k] for k in ("name", "given_name", "email") if k in one}}
        )
        if not Membership.objects.filter(course=course, user=user).exists():
            Membership.objects.create(course=course, user=user, role=Membership.Role.STUDENT)
            made += 1
    return made


def keep_grade(attempt: Attempt, tool, launch: dict) -> None:
    """Remember where this attempt's score goes, when the launch came with a gradebook column."""
    endpoint = launch.get(AGS_CLAIM) or {}
    if not endpoint.get("lineitem"):
        return
    LtiGrade.objects.update_or_create(
        attempt=attempt, defaults={"tool": tool, "sub": str(launch["sub"]), "endpoint": endpoint}
    )


def report(attempt_id: int) -> None:
    """Send the attempt's score to its LMS gradebook, if it has one and the score changed
    (in the background: a slow LMS holds up nothing)."""
    grade = LtiGrade.objects.filter(attempt_id=attempt_id).select_related("attempt", "tool").first()
    if grade is None or grade.sent_score == grade.attempt.score:
        return
    threading.Thread(target=_send, args=(grade.id,), name=f"lms-score-{attempt_id}", daemon=True).start()


def _send(grade_id: int) -> None:
    from django.db import connection

    try:
        grade = LtiGrade.objects.select_related("attempt", "tool").get(id=grade_id)
        score, error = grade.attempt.score, ""
        try:
            registration = tool_conf().find_registration_by_params(grade.tool.issuer, grade.tool.client_id)
            service = AssignmentsGradesService(
                ServiceConnector(registration, BoundedSession()), grade.endpoint
            )
            sent = (
                Grade()
                .set_score_given(round(score, 4))
                .set_score_maximum(1)
                .set_user_id(grade.sub)
                .set_timestamp(timezone.now().isoformat())
                .set_activity_progress("Completed" if score >= 1 else "InProgress")
                .set_grading_progress("FullyGraded")
            )
            service.put_grade(sent)
        except Exception as exc:  # the LMS's trouble, kept on the row for the admin to read
            error = f"{type(exc).__name__}: {exc}"[:500]
            log.warning("score of attempt %s not sent: %s", grade.attempt_id, error)
        changes = {"error": error} if error else {"sent_score": score, "sent": timezone.now(), "error": ""}
        LtiGrade.objects.filter(id=grade_id).update(**changes)
    finally:
        with contextlib.suppress(Exception):
            connection.close()
