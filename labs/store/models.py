"""A lab: its owner, its document (the stored truth), the addresses and ports handed out,
and where it stands in its life cycle; plus the rows projected from the document."""

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
    LOST = "lost", "Lab host lost"


class Lab(models.Model):
    """A topology with an owner. `document` is the truth; everything else is derived from it."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="labs")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True)
    tag = models.CharField(
        max_length=8,
        unique=True,
        default=new_lab_tag,
        editable=False,
        help_text="ownership tag of everything the lab owns on its lab host",
    )
    description = models.TextField(blank=True, default="")
    document = models.JSONField(default=dict, blank=True, help_text="the validated lab document")
    status = models.CharField(max_length=20, choices=LabStatus.choices, default=LabStatus.DRAFT)
    status_reason = models.CharField(max_length=500, blank=True, default="")
    labhost = models.CharField(max_length=100, default="local", help_text="the lab host's queue")
    containers = models.PositiveIntegerField(
        default=0, help_text="containers it holds on its lab host when deployed (counts against capacity)"
    )
    parts = models.JSONField(
        default=dict,
        blank=True,
        help_text="when it spans lab hosts: the other lab hosts' parts, {labhost: {containers, nodes}}",
    )
    assignments = models.JSONField(
        default=dict, blank=True, help_text="automatic addresses and ports handed out so far"
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    def host_of(self, node: str) -> str:
        """The lab host that runs `node` (its lab host's, unless a part elsewhere holds it)."""
        for labhost, part in (self.parts or {}).items():
            if node in part.get("nodes", []):
                return labhost
        return self.labhost

    @property
    def labhosts(self) -> list[str]:
        """Every lab host holding something of the lab, its own first."""
        return [self.labhost, *sorted(set(self.parts or {}) - {self.labhost})]


class Part(models.Model):
    """A row projected from one element of a lab's document; `data` is its document form."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, blank=True, default="")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.lab.slug}/{self.name}"


class Node(Part):
    """A node of a lab's document (host, router, switch or container)."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="nodes")

    class Meta(Part.Meta):
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="node_name_unique_in_lab")]


class Network(Part):
    """A network of a lab's document (segment, bridge or overlay)."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="networks")

    class Meta(Part.Meta):
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="network_name_unique_in_lab")]


class Link(Part):
    """A point-to-point link of a lab's document; `name` is its two ends, `a|b`."""

    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="links")

    class Meta(Part.Meta):
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="link_ends_unique_in_lab")]
