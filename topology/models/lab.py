"""A lab: one topology owned by one person, and where it stands in its life cycle."""

import secrets

from django.conf import settings
from django.db import models


def new_lab_tag() -> str:
    """A random tag that marks everything the lab owns on a lab host (labels, names)."""
    return secrets.token_hex(4)


class LabStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    DEPLOYING = "deploying", "Deploying"
    RUNNING = "running", "Running"
    DEGRADED = "degraded", "Degraded"
    FAILED = "failed", "Failed"
    DESTROYING = "destroying", "Destroying"
    STOPPED = "stopped", "Stopped"


class Lab(models.Model):
    """A topology with an owner; its nodes, networks and links hang off it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labs")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    uid = models.CharField(
        max_length=8,
        unique=True,
        default=new_lab_tag,
        editable=False,
        help_text="ownership tag of everything the lab owns on its lab host",
    )
    description = models.TextField(blank=True, default="")
    status = models.CharField(max_length=20, choices=LabStatus.choices, default=LabStatus.DRAFT)
    status_reason = models.CharField(max_length=500, blank=True, default="")
    labhost = models.CharField(max_length=100, default="local", help_text="the lab host's queue")
    assignments = models.JSONField(
        default=dict, blank=True, help_text="automatic addresses and ports handed out so far"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name
