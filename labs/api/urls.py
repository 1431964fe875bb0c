"""API routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from labs.classroom import api as classroom
from labs.classroom.inbox_api import InboxReadView, InboxView

from . import sharing, views

router = DefaultRouter()
router.register("labs", views.LabViewSet, basename="lab")
router.register("nodes", views.NodeViewSet, basename="node")
router.register("networks", views.NetworkViewSet, basename="network")
router.register("links", views.LinkViewSet, basename="link")
router.register("kinds", views.KindViewSet, basename="kind")
router.register("captures", views.CaptureViewSet, basename="capture")
router.register("shares", sharing.ShareLinkViewSet, basename="share")
router.register("courses", classroom.CourseViewSet, basename="course")
router.register("exercises", classroom.ExerciseViewSet, basename="exercise")
router.register("attempts", classroom.AttemptViewSet, basename="attempt")

urlpatterns = [
    path("validate/", views.ValidateDocumentView.as_view(), name="validate-document"),
    path("shared/", sharing.SharedLabView.as_view(), name="shared-lab"),
    path("shared/state/", sharing.SharedStateView.as_view(), name="shared-state"),
    path("shared/clone/", sharing.SharedCloneView.as_view(), name="shared-clone"),
    path("inbox/", InboxView.as_view(), name="inbox"),
    path("inbox/read/", InboxReadView.as_view(), name="inbox-read"),
    path("", include(router.urls)),
]
