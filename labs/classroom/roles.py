"""Who may do what in a course: teachers (staff, or members of the `teachers` group, make
courses; a course's teachers run it) and the students who joined it."""

from __future__ import annotations

from django.contrib.auth.models import Group

from .models import Course, Membership

TEACHERS_GROUP = "teachers"


def can_teach(user) -> bool:
    """Whether `user` may make courses."""
    if not user or not user.is_authenticated:
        return False
    return user.is_staff or user.groups.filter(name=TEACHERS_GROUP).exists()


def make_teacher(user) -> None:
    user.groups.add(Group.objects.get_or_create(name=TEACHERS_GROUP)[0])


def role_in(course: Course, user) -> str | None:
    """ "teacher", "student" or None."""
    if not user or not user.is_authenticated:
        return None
    return Membership.objects.filter(course=course, user=user).values_list("role", flat=True).first()


def teaches(course: Course, user) -> bool:
    return role_in(course, user) == Membership.Role.TEACHER


def courses_of(user):
    return Course.objects.filter(members__user=user).distinct()


def taught_by(user):
    return Course.objects.filter(members__user=user, members__role=Membership.Role.TEACHER)


def only_a_student(user) -> bool:
    """Whether `user` is in courses as a student and nothing more (no teacher, no staff): their
    pages leave out the builders' tools (the API's pages, the health page)."""
    if not user or not user.is_authenticated or can_teach(user):
        return False
    roles = set(Membership.objects.filter(user=user).values_list("role", flat=True))
    return roles == {Membership.Role.STUDENT}


def navigation(request) -> dict:
    """Template context: what the header offers this person."""
    return {"builder_tools": not only_a_student(request.user)}
