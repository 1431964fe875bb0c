"""Courses: made by a teacher (maybe from the demo course), joined with a code, filled with
accounts from a CSV list."""

from __future__ import annotations

import csv
import io
import json
import re
import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from topology.document import load_text

from . import grading
from .exercise_files import ExerciseFile, read_exercise
from .exercises import add_exercise
from .models import Course, Membership

DEMO_COURSE = Path(__file__).resolve().parents[1] / "demo" / "course"
USERNAME = re.compile(r"^[\w.@+-]{1,150}$")
MAX_ROSTER = 500
MAX_DEMO_BYTES = 200_000


class CourseRefused(Exception):
    """A request about a course that cannot be done; `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def demo_files() -> list[Path]:
    return sorted(DEMO_COURSE.glob("*.yaml"))


def demo_exercise(path: Path) -> ExerciseFile:
    """A demo exercise, with its solution from `solutions/` (a lab file of the same name)."""
    data = load_text(path.read_text(), MAX_DEMO_BYTES)
    solution = DEMO_COURSE / "solutions" / path.name
    if solution.exists():
        data["exercise"]["solution"] = load_text(solution.read_text(), MAX_DEMO_BYTES)
    return read_exercise(json.dumps(data))


@transaction.atomic
def create_course(name: str, teacher, from_demo: bool = False) -> Course:
    course = Course.objects.create(name=name, created_by=teacher)
    Membership.objects.create(course=course, user=teacher, role=Membership.Role.TEACHER)
    if from_demo:
        for path in demo_files():
            add_exercise(course, demo_exercise(path))
    return course


def find_course(code: str) -> Course | None:
    """The course this code lets in now (joining open, its time not past)."""
    code = (code or "").strip().upper()
    if not code:
        return None
    still = Q(joining_until__isnull=True) | Q(joining_until__gt=timezone.now())
    return Course.objects.filter(still, join_code=code, joining_open=True).first()


@transaction.atomic
def join(course: Course, user, by_teacher: bool = False) -> Membership:
    """`user` joins as a student (a teacher of the course stays a teacher); refused when the
    course has its most students, unless a teacher adds them."""
    most = Course.objects.select_for_update().get(id=course.id).max_students  # one join at a time counts
    membership = Membership.objects.filter(course=course, user=user).first()
    if membership is not None:
        return membership
    students = course.members.filter(role=Membership.Role.STUDENT).count()
    if most and students >= most and not by_teacher:
        raise CourseRefused("code", f"this course is full ({most} students): ask your teacher")
    membership, created = Membership.objects.get_or_create(course=course, user=user)
    if created and membership.role == Membership.Role.STUDENT:
        course_id, username = course.id, user.username
        transaction.on_commit(lambda: grading.announce_member(course_id, username))
    return membership


@transaction.atomic
def sign_up(course: Course, username: str, password: str):
    """A new student account that joins the course; no e-mail needed."""
    username = username.strip()
    if not USERNAME.match(username):
        raise CourseRefused("username", "use at most 150 letters, digits and @ . + - _")
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise CourseRefused("username", f"the name {username} is taken: choose another")
    user = User(username=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise CourseRefused("password", " ".join(exc.messages)) from None
    user.set_password(password)
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise CourseRefused("username", f"the name {username} is taken: choose another") from None
    join(course, user)
    return user


def enroll_roster(course: Course, text: str) -> list[dict]:
    """Accounts for every student of a CSV list (a `username` column, or one name per line);
    new accounts get a one-time password, returned here and nowhere else. Existing accounts
    just join."""
    rows = list(csv.reader(io.StringIO(text)))
    if rows and [c.strip().lower() for c in rows[0]][:1] == ["username"]:
        rows = rows[1:]
    names = [r[0].strip() for r in rows if r and r[0].strip()]
    if len(names) > MAX_ROSTER:
        raise CourseRefused("roster", f"at most {MAX_ROSTER} students at once; this list has {len(names)}")
    bad = [n for n in names if not USERNAME.match(n)]
    if bad:
        raise CourseRefused("roster", f"not valid user names: {', '.join(bad[:5])}")
    User = get_user_model()
    out = []
    with transaction.atomic():
        for name in dict.fromkeys(names):
            user = User.objects.filter(username__iexact=name).first()
            password = None
            if user is None:
                password = secrets.token_urlsafe(9)
                user = User.objects.create_user(username=name, password=password)
            join(course, user, by_teacher=True)
            out.append({"username": user.username, "password": password})
    return out
