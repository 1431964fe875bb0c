"""What the classroom's API shares: finding a course the way a user may see it, and refusing
what only its teachers may do."""

from __future__ import annotations

from rest_framework.exceptions import NotFound, PermissionDenied

from ..models import Course
from ..roles import courses_of, teaches


def course_for(user, pk) -> Course:
    course = courses_of(user).filter(pk=pk).first()
    if course is None:
        raise NotFound("no such course")
    return course


def must_teach(course: Course, user) -> None:
    if not teaches(course, user):
        raise PermissionDenied("only the course's teachers may do this")
