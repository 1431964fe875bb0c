"""Serializers for labs, nodes (with interfaces and ports), networks and links."""

from __future__ import annotations

import math

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs import stitching
from labs.models import Lab, Operation
from labs.store.documents import document_version


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])


class ProblemsSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    problems = ProblemSerializer(many=True)


class GatewaySerializer(serializers.Serializer):
    via = serializers.CharField(help_text="the router's address")
    router = serializers.CharField()


class LabSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    node_count = serializers.SerializerMethodField()
    assigned_ports = serializers.SerializerMethodField(
        help_text="the host ports handed out for `auto` ports, by `node:index` (PORT0 is index 0)"
    )
    assigned_addresses = serializers.SerializerMethodField(
        help_text="the addresses handed out, by `node:interface` and by container name (`a.b.c.d/len`)"
    )
    gateways = serializers.SerializerMethodField(
        help_text="hosts given a default route by `gateway: auto`: host -> {via, router}"
    )
    cni = serializers.SerializerMethodField(
        help_text="each container on a CNI network -> its plugin chain's result (interfaces, ips, "
        "routes) as its last deploy got it from the plugins; {} when the lab has no CNI network"
    )
    document_version = serializers.SerializerMethodField(
        help_text="changes whenever the stored document does: send it as If-Match with PUT document "
        "so that a change made meanwhile is refused rather than overwritten"
    )
    spans = serializers.SerializerMethodField(
        help_text="when the lab spans lab hosts: `labhosts` (node -> the lab host it runs on) and "
        "`stitches` (each segment stitched between lab hosts: segment, labhosts, vni, mtu); else {}"
    )
    instances = serializers.SerializerMethodField(
        help_text="the orchestrator's app instances (APP.N) -> the agent each is placed on"
    )

    class Meta:
        model = Lab
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "owner",
            "status",
            "status_reason",
            "labhost",
            "node_count",
            "assigned_ports",
            "assigned_addresses",
            "gateways",
            "instances",
            "spans",
            "cni",
            "document_version",
            "created",
            "updated",
        ]
        read_only_fields = ["slug", "status", "status_reason", "labhost", "created", "updated"]

    def get_document_version(self, lab) -> str:
        return document_version(lab.document)

    def get_node_count(self, lab) -> int:
        return len((lab.document or {}).get("nodes", {}))

    def get_assigned_ports(self, lab) -> dict[str, int]:
        return dict((lab.assignments or {}).get("ports", {}))

    def get_assigned_addresses(self, lab) -> dict[str, str]:
        return handed_out_addresses(lab.assignments)

    @extend_schema_field(serializers.DictField(child=GatewaySerializer()))
    def get_gateways(self, lab) -> dict[str, dict]:
        return dict((lab.assignments or {}).get("gateways", {}))

    def get_instances(self, lab) -> dict[str, str]:
        return dict((lab.assignments or {}).get("instances", {}))

    def get_spans(self, lab) -> dict:
        return stitching.shown(lab)

    def get_cni(self, lab) -> dict[str, dict]:
        networks = (lab.document or {}).get("networks", {})
        if not any(net.get("kind") == "cni" for net in networks.values()):
            return {}
        out: dict[str, dict] = {}
        done = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED)
        for result in done.values_list("result", flat=True)[: len(lab.labhosts)]:  # newest first
            for container, chained in (result or {}).get("cni", {}).items():
                out.setdefault(container, chained)
        return out


def handed_out_addresses(assignments: dict | None) -> dict[str, str]:
    """Addresses a lab was given, by `node:interface` (a Docker host's `docker0` included) and by
    container name."""
    assignments = assignments or {}
    given = (assignments.get(part) or {} for part in ("interfaces", "bridges", "containers"))
    return {key: value for part in given for key, value in part.items()}


class DocumentPartSerializer(serializers.Serializer):
    """A part of a lab document as the API shows it: its row id, its lab, and its document form.

    Writes do not go through this serializer: they are edits of the document (see `parts.py`).
    """

    id = serializers.IntegerField(read_only=True)
    lab = serializers.IntegerField(help_text="the id of one of your labs")

    def to_representation(self, row):
        head = {"id": row.id, "lab": row.lab_id}
        if "name" in self.fields:
            head["name"] = row.name
        return {**head, **row.data}


class NodeSerializer(DocumentPartSerializer):
    name = serializers.CharField()
    kind = serializers.CharField(help_text="one of /api/kinds/")
    image = serializers.CharField(required=False)
    host = serializers.CharField(required=False, help_text="containers: the emulated host")
    mode = serializers.CharField(
        required=False, help_text="containers: host, bridge, overlay:<net>, cni:<net> or none"
    )
    address = serializers.CharField(required=False)
    command = serializers.JSONField(required=False, help_text="a string or a list of strings")
    env = serializers.DictField(child=serializers.CharField(), required=False)
    exec = serializers.ListField(child=serializers.CharField(), required=False)
    interfaces = serializers.JSONField(required=False, help_text="{name: {network, address}}")
    routes = serializers.JSONField(required=False, help_text="[{to, via}]")
    ports = serializers.JSONField(required=False, help_text="['10000:80', 'auto:80/udp', 'auto', ...]")
    port_range = serializers.CharField(required=False)
    publish_range = serializers.CharField(required=False)
    position = serializers.JSONField(required=False, help_text="{x, y}")


class NetworkSerializer(DocumentPartSerializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["segment", "bridge", "overlay", "cni"])
    subnet = serializers.CharField(required=False)
    host = serializers.CharField(required=False, help_text="bridge and cni networks: the host it is on")
    config = serializers.JSONField(
        required=False, help_text="cni networks: the configuration list {plugins: [...]}"
    )
    position = serializers.JSONField(required=False)


class LinkSerializer(DocumentPartSerializer):
    endpoints = serializers.ListField(
        child=serializers.CharField(), min_length=2, max_length=2, help_text="two ends written node:interface"
    )
    subnet = serializers.CharField(required=False)


class PaletteEntrySerializer(serializers.Serializer):
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    prefix = serializers.CharField()
    template = serializers.DictField(help_text="fields a new node starts with; {name} is its name")


class KindSerializer(serializers.Serializer):
    """A node kind and its traits: what the editor builds its palette and panel from."""

    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field named like Field.label
    description = serializers.CharField()
    allowed_fields = serializers.SerializerMethodField()
    has_interfaces = serializers.BooleanField()
    sandboxed = serializers.BooleanField(help_text="an emulated machine with a namespace of its own")
    bridges_ports = serializers.BooleanField(help_text="its interfaces are ports of one L2 bridge")
    holds_containers = serializers.BooleanField()
    placed_on_host = serializers.BooleanField()
    forwards = serializers.BooleanField()
    has_container = serializers.BooleanField(help_text="it can be restarted and has a console")
    default_image = serializers.CharField(allow_null=True)
    palette = PaletteEntrySerializer(many=True)

    def get_allowed_fields(self, kind) -> list[str]:
        return sorted(kind.fields)


class OperationSerializer(serializers.ModelSerializer):
    lab: serializers.PrimaryKeyRelatedField[Lab] = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        from labs.models import Operation

        model = Operation
        fields = [
            "id",
            "lab",
            "kind",
            "status",
            "labhost",
            "log",
            "error",
            "result",
            "created",
            "started",
            "finished",
        ]
        read_only_fields = fields


class CableSerializer(serializers.Serializer):
    node = serializers.CharField(required=False)
    iface = serializers.CharField(required=False)
    plugged = serializers.BooleanField()


class FiniteFloatField(serializers.FloatField):
    """A number that is neither NaN nor infinite (JSON has no place for them)."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if not math.isfinite(value):
            raise serializers.ValidationError("must be a finite number")
        return value


class ImpairmentSerializer(serializers.Serializer):
    node = serializers.CharField(required=False, help_text="with iface: one interface (lab endpoint)")
    iface = serializers.CharField(required=False)
    delay_ms = FiniteFloatField(min_value=0, max_value=60_000, default=0)
    jitter_ms = FiniteFloatField(min_value=0, max_value=60_000, default=0)
    loss_pct = FiniteFloatField(min_value=0, max_value=100, default=0)
    rate_kbit = serializers.IntegerField(min_value=0, max_value=100_000_000, default=0)


class NodeActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["stop", "start", "restart", "kill"])


class LabEventSerializer(serializers.Serializer):
    time = serializers.DateTimeField()
    kind = serializers.CharField()
    message = serializers.CharField()


class CaptureSerializer(serializers.ModelSerializer):
    size = serializers.SerializerMethodField()

    class Meta:
        from labs.models import Capture

        model = Capture
        fields = [
            "id",
            "lab",
            "node",
            "iface",
            "seconds",
            "max_bytes",
            "status",
            "error",
            "size",
            "created",
            "finished",
        ]
        read_only_fields = ["lab", "status", "error", "size", "created", "finished"]
        extra_kwargs = {
            "seconds": {"min_value": 1, "max_value": 300},
            "max_bytes": {"min_value": 1000, "max_value": 50_000_000},
        }

    def get_size(self, capture) -> int:
        return len(capture.pcap or b"")


class NodeNameSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=100)


class TraceSerializer(serializers.Serializer):
    node = serializers.CharField(max_length=100, help_text="the node the probe leaves from")
    target = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9.-]*$",
        max_length=253,
        help_text="an IPv4 address, or a name the node resolves",
    )
    protocol = serializers.ChoiceField(choices=["icmp", "tcp", "udp"], default="icmp")
    port = serializers.IntegerField(min_value=1, max_value=65535, required=False)
    timeout = FiniteFloatField(min_value=0.2, max_value=5.0, default=2.0)
