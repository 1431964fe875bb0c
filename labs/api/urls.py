"""API routes."""

from django.urls import include, path
from rest_framework.routers import DefaultRouter

from . import views

router = DefaultRouter()
router.register("labs", views.LabViewSet, basename="lab")
router.register("nodes", views.NodeViewSet, basename="node")
router.register("networks", views.NetworkViewSet, basename="network")
router.register("links", views.LinkViewSet, basename="link")
router.register("kinds", views.KindViewSet, basename="kind")
router.register("captures", views.CaptureViewSet, basename="capture")

urlpatterns = [
    path("validate/", views.ValidateDocumentView.as_view(), name="validate-document"),
    path("", include(router.urls)),
]
