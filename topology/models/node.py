"""Nodes of a lab, their interfaces, and the ports their containers publish or take."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from topology.kinds import kind_names

KIND_CHOICES = [(k, k) for k in kind_names()]
PORT_VALIDATORS = [MinValueValidator(1), MaxValueValidator(65535)]


class Node(models.Model):
    """A host, router, switch or container (see `topology.kinds` for what each takes)."""

    lab = models.ForeignKey("topology.Lab", on_delete=models.CASCADE, related_name="nodes")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=20, choices=KIND_CHOICES)
    image = models.CharField(max_length=200, blank=True, default="")
    host = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="containers"
    )
    mode = models.CharField(max_length=80, blank=True, default="")
    address = models.CharField(max_length=50, blank=True, default="")
    command = models.JSONField(null=True, blank=True)
    env = models.JSONField(default=dict, blank=True)
    exec = models.JSONField(default=list, blank=True)
    routes = models.JSONField(default=list, blank=True)
    port_range = models.CharField(max_length=20, blank=True, default="")
    publish_range = models.CharField(max_length=20, blank=True, default="")
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["lab", "name"], name="node_name_unique_in_lab")]

    def __str__(self) -> str:
        return f"{self.lab.slug}/{self.name}"


class Interface(models.Model):
    """An interface of a node, on a segment or at the end of a link."""

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="interfaces")
    name = models.CharField(max_length=15)
    network = models.ForeignKey(
        "topology.Network", null=True, blank=True, on_delete=models.SET_NULL, related_name="interfaces"
    )
    address = models.CharField(
        max_length=50, blank=True, default="", help_text="static address/prefix, 'auto' or empty"
    )

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["node", "name"], name="interface_name_unique_in_node")]

    def __str__(self) -> str:
        return f"{self.node.name}:{self.name}"


class PortMapping(models.Model):
    """A container's port: published HOST:CONTAINER (bridge) or taken on its host (host mode).

    An empty host port means automatic: from the host's range, as PORTn in host mode.
    """

    node = models.ForeignKey(Node, on_delete=models.CASCADE, related_name="ports")
    host_port = models.PositiveIntegerField(null=True, blank=True, validators=PORT_VALIDATORS)
    container_port = models.PositiveIntegerField(null=True, blank=True, validators=PORT_VALIDATORS)
    protocol = models.CharField(max_length=3, choices=[("tcp", "tcp"), ("udp", "udp")], default="tcp")

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        host = self.host_port or "auto"
        return f"{host}:{self.container_port}/{self.protocol}" if self.container_port else f"{host}"
