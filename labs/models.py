"""Operations on labs: each deploy or destroy is a row with its status, times and log."""

from django.conf import settings
from django.db import models


class Operation(models.Model):
    """One deploy or destroy of a lab, carried out by its lab host's worker."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        DESTROY = "destroy", "Destroy"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="operations")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    labhost = models.CharField(max_length=100)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spec = models.JSONField(default=dict, blank=True, help_text="the lab host spec to converge to")
    result = models.JSONField(default=dict, blank=True, help_text="changes and node states")
    log = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    started = models.DateTimeField(null=True, blank=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.lab} ({self.status})"

    @property
    def done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)
