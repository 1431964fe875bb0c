"""API routes of the classroom (mounted beside the labs app's under /api/)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from .attempts import AttemptViewSet
from .courses import CourseViewSet
from .exercises import ExerciseViewSet
from .inbox import InboxReadView, InboxView

router = SimpleRouter()
router.register("courses", CourseViewSet, basename="course")
router.register("exercises", ExerciseViewSet, basename="exercise")
router.register("attempts", AttemptViewSet, basename="attempt")

urlpatterns = [
    path("inbox/", InboxView.as_view(), name="inbox"),
    path("inbox/read/", InboxReadView.as_view(), name="inbox-read"),
    path("", include(router.urls)),
]
