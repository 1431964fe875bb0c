"""Jobs on labs: each deploy, destroy, control or exec is a row with its status, times and log;
each lab's history and its packet captures."""

from django.conf import settings
from django.db import models


class Operation(models.Model):
    """One job on a lab, carried out by its lab host's worker: a deploy or destroy (with the
    spec to converge to), or a control, node action or command (with its `params`)."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        DESTROY = "destroy", "Destroy"
        CABLE = "cable", "Cable"
        IMPAIR = "impair", "Impairment"
        NODE = "node", "Node action"
        EXEC = "exec", "Command"
        CHECK = "check", "Checks"
        NAT = "nat", "NAT table"
        TRACE = "trace", "Packet trace"

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
    params = models.JSONField(default=dict, blank=True, help_text="what a control or command is asked to do")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="how often a worker took it up")
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

    LIFECYCLE = (Kind.DEPLOY, Kind.DESTROY)

    @property
    def done(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class LabEvent(models.Model):
    """One line of a lab's history: deploy steps, failures, link changes, impairments."""

    class Kind(models.TextChoices):
        DEPLOY = "deploy", "Deploy"
        NODE = "node", "Node"
        LINK = "link", "Link"
        IMPAIRMENT = "impairment", "Impairment"
        CAPTURE = "capture", "Capture"
        ERROR = "error", "Error"

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="events")
    time = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    message = models.CharField(max_length=1000)

    class Meta:
        ordering = ["-time", "-id"]

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.kind}: {self.message}"


class Capture(models.Model):
    """A packet capture on one node interface's cable, bounded by time and size."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="captures")
    node = models.CharField(max_length=63)
    iface = models.CharField(max_length=15)
    seconds = models.PositiveIntegerField(default=10)
    max_bytes = models.PositiveIntegerField(default=2_000_000)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    error = models.TextField(blank=True, default="")
    pcap = models.BinaryField(blank=True, default=b"")
    created = models.DateTimeField(auto_now_add=True)
    finished = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"capture {self.node}:{self.iface} ({self.status})"
