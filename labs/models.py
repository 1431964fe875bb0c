"""Jobs on labs: each deploy, destroy, control or exec is a row with its status, times and log;
each lab's history, captures and share links. The stored labs themselves are in `labs.store`."""

from django.conf import settings
from django.db import models

from labs.store.models import Lab, LabStatus, Link, Network, Node

__all__ = [
    "Capture",
    "ImageRule",
    "Installation",
    "Lab",
    "LabEvent",
    "LabHost",
    "LabStatus",
    "Link",
    "Network",
    "Node",
    "Operation",
    "ShareLink",
    "StitchVni",
]  # fmt: skip


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


def _new_installation_key() -> str:
    import secrets

    return secrets.token_hex(4)


class Installation(models.Model):
    """This installation (its database): one row whose key marks every container and fabric
    namespace its lab hosts make, so that garbage collection never takes another's."""

    key = models.CharField(max_length=16, default=_new_installation_key, editable=False)

    def __str__(self) -> str:
        return f"installation {self.key}"

    @classmethod
    def current_key(cls) -> str:
        return cls.objects.get_or_create(pk=1)[0].key


class ShareLink(models.Model):
    """A link that lets others see a lab live (read-only) or take their own copy of it.

    Only a hash of its token is stored: the token itself is shown once, when it is made."""

    class Mode(models.TextChoices):
        VIEW = "view", "View"
        CLONE = "clone", "Clone"
        VIEW_CLONE = "view+clone", "View and clone"

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="share_links")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    label = models.CharField(max_length=100, blank=True, default="")
    mode = models.CharField(max_length=10, choices=Mode.choices, default=Mode.VIEW)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    present = models.BooleanField(default=False, help_text="viewers may follow the owner's view")
    snapshot = models.JSONField(
        null=True, blank=True, help_text="the document and addresses at sharing time, instead of the live lab"
    )
    expires = models.DateTimeField(null=True, blank=True)
    revoked = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created", "-id"]

    def __str__(self) -> str:
        return f"{self.get_mode_display()} link {self.label or self.id} to {self.lab}"

    @property
    def can_view(self) -> bool:
        return self.mode in (self.Mode.VIEW, self.Mode.VIEW_CLONE)

    @property
    def can_clone(self) -> bool:
        return self.mode in (self.Mode.CLONE, self.Mode.VIEW_CLONE)


class ImageRule(models.Model):
    """Images labs may name: the first rule (by `order`) whose pattern matches decides; with
    `use_instead`, that image runs in the named one's place (e.g. `alpine:*` as Wirelab's
    node, so peers' labs run offline). An image no rule matches is refused by validation."""

    pattern = models.CharField(max_length=200, help_text="a glob on name:tag, e.g. wirelab/* or alpine:*")
    use_instead = models.CharField(max_length=200, blank=True, default="", help_text="run this image instead")
    order = models.PositiveIntegerField(default=100)
    note = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.pattern} -> {self.use_instead}" if self.use_instead else self.pattern


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
