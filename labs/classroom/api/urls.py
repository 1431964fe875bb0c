"""API routes of the classroom, mounted beside the labs app's under /api/ (its resources on the
project's one router, in `config/urls.py`)."""

from django.urls import path

from .attempts import AttemptViewSet
from .courses import CourseViewSet
from .exercises import ExerciseViewSet
from .inbox import InboxReadView, InboxView

RESOURCES = [
    ("courses", CourseViewSet, "course"),
    ("exercises", ExerciseViewSet, "exercise"),
    ("attempts", AttemptViewSet, "attempt"),
]

urlpatterns = [
    path("inbox/", InboxView.as_view(), name="inbox"),
    path("inbox/read/", InboxReadView.as_view(), name="inbox-read"),
]
