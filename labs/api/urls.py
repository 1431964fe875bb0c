"""API routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import sharing, views

router = DefaultRouter()
router.register("labs", views.LabViewSet, basename="lab")
router.register("nodes", views.NodeViewSet, basename="node")
router.register("networks", views.NetworkViewSet, basename="network")
router.register("links", views.LinkViewSet, basename="link")
router.register("kinds", views.KindViewSet, basename="kind")
router.register("captures", views.CaptureViewSet, basename="capture")
router.register("shares", sharing.ShareLinkViewSet, basename="share")

urlpatterns = [
    path("validate/", views.ValidateDocumentView.as_view(), name="validate-document"),
    path("shared/", sharing.SharedLabView.as_view(), name="shared-lab"),
    path("shared/state/", sharing.SharedStateView.as_view(), name="shared-state"),
    path("shared/clone/", sharing.SharedCloneView.as_view(), name="shared-clone"),
    path("", include(router.urls)),
]
