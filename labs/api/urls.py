"""API routes of the labs app: its resources (registered on the project's one router by
`config/urls.py`, with the classroom's, so that /api/ lists them all) and its other views."""

from django.urls import path

from . import sharing, views

RESOURCES = [
    ("labs", views.LabViewSet, "lab"),
    ("nodes", views.NodeViewSet, "node"),
    ("networks", views.NetworkViewSet, "network"),
    ("links", views.LinkViewSet, "link"),
    ("kinds", views.KindViewSet, "kind"),
    ("captures", views.CaptureViewSet, "capture"),
    ("shares", sharing.ShareLinkViewSet, "share"),
]

urlpatterns = [
    path("validate/", views.ValidateDocumentView.as_view(), name="validate-document"),
    path("shared/", sharing.SharedLabView.as_view(), name="shared-lab"),
    path("shared/state/", sharing.SharedStateView.as_view(), name="shared-state"),
    path("shared/clone/", sharing.SharedCloneView.as_view(), name="shared-clone"),
]
