"""Networks of a lab (segments, bridges, overlays) and its point-to-point links."""

from django.db import models


class Network(models.Model):
    """An L2 segment, a host's docker0-like bridge, or an overlay spanning hosts."""

    KINDS = [("segment", "segment"), ("bridge", "bridge"), ("overlay", "overlay")]

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="networks")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=10, choices=KINDS, default="segment")
    subnet = models.CharField(max_length=50, blank=True, default="")
    host = models.ForeignKey(
        "topology.Node", null=True, blank=True, on_delete=models.CASCADE, related_name="bridge_networks"
    )
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="network_name_unique_in_lab")]

    def __str__(self) -> str:
        return f"{self.lab.slug}/{self.name}"


class Link(models.Model):
    """A cable between two interfaces."""

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="links")
    a = models.ForeignKey("topology.Interface", on_delete=models.CASCADE, related_name="+")
    b = models.ForeignKey("topology.Interface", on_delete=models.CASCADE, related_name="+")
    subnet = models.CharField(max_length=50, blank=True, default="")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.a} -- {self.b}"
