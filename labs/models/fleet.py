"""The lab hosts of the fleet, and the VXLAN network identifiers of labs stitched between them."""

from django.db import models


class LabHost(models.Model):
    """A machine that runs labs: its queue, where other lab hosts reach it, what it may hold,
    whether it takes new labs, and when it last said it was alive (`labs.fleet`)."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        CORDONED = "cordoned", "Cordoned (takes no new labs)"
        DRAINING = "draining", "Draining (its labs move away)"

    name = models.SlugField(max_length=100, unique=True, help_text="also the lab host's Celery queue")
    underlay = models.GenericIPAddressField(
        null=True, blank=True, help_text="the address other lab hosts reach this one on"
    )
    capacity_containers = models.PositiveIntegerField(
        default=500, help_text="containers (nodes and apps) of labs it may hold at once"
    )
    memory_mb = models.PositiveIntegerField(default=0, help_text="the machine's memory, as it reported it")
    memory_free_mb = models.PositiveIntegerField(
        default=0, help_text="memory available at its last heartbeat (0: not reported)"
    )
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    version = models.CharField(max_length=100, blank=True, default="", help_text="Wirelab's and Docker's")
    containers = models.PositiveIntegerField(
        default=0, help_text="lab containers running at the last heartbeat"
    )
    registered = models.DateTimeField(auto_now_add=True)
    last_heartbeat = models.DateTimeField(null=True, blank=True)
    lost_since = models.DateTimeField(
        null=True, blank=True, help_text="set when heartbeats stopped; cleared when it comes back"
    )
    gc_report = models.TextField(blank=True, default="", help_text="what its last asked-for collection found")
    cni_plugins = models.JSONField(
        default=list, blank=True, help_text="the CNI plugin types it has, as it said when it registered"
    )
    warm = models.JSONField(
        default=list, blank=True, help_text="its warm sandboxes at its last heartbeat: image, size, ready"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def lost(self) -> bool:
        return self.lost_since is not None


class StitchVni(models.Model):
    """A VXLAN network identifier handed out to one stitched segment (its fabric bridge) of a lab
    spanning lab hosts, under one ownership tag: unique across the installation while anything
    may carry it, so two labs' stitches over the same lab hosts never meet. Released when the
    lab's destroy is done; one of a tag the lab no longer has (it moved, or its lab host was lost)
    is kept a while longer, until that lab host's garbage collection took down the old part."""

    number = models.PositiveIntegerField(unique=True)
    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="vnis")
    tag = models.CharField(max_length=16, help_text="the lab's ownership tag when it was handed out")
    bridge = models.CharField(max_length=15)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["number"]
        constraints = [models.UniqueConstraint(fields=["tag", "bridge"], name="one_vni_per_tagged_segment")]

    def __str__(self) -> str:
        return f"VNI {self.number}: {self.lab} {self.bridge}"
