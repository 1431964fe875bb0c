"""API routes of the classroom (mounted beside the labs app's under /api/)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from . import api
from .inbox_api import InboxReadView, InboxView

router = SimpleRouter()
router.register("courses", api.CourseViewSet, basename="course")
router.register("exercises", api.ExerciseViewSet, basename="exercise")
router.register("attempts", api.AttemptViewSet, basename="attempt")

urlpatterns = [
    path("inbox/", InboxView.as_view(), name="inbox"),
    path("inbox/read/", InboxReadView.as_view(), name="inbox-read"),
    path("", include(router.urls)),
]
