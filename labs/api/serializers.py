"""Serializers for labs, nodes (with interfaces and ports), networks and links."""

from __future__ import annotations

from django.db import transaction
from rest_framework import serializers

from topology.models import Interface, Lab, Link, Network, Node, PortMapping
from topology.validation import IFNAME, NAME


class ProblemSerializer(serializers.Serializer):
    path = serializers.CharField()
    message = serializers.CharField()
    severity = serializers.ChoiceField(choices=["error", "warning"])


class ProblemsSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    problems = ProblemSerializer(many=True)


class LabSerializer(serializers.ModelSerializer):
    owner = serializers.CharField(source="owner.username", read_only=True)
    node_count = serializers.IntegerField(source="nodes.count", read_only=True)

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
            "created",
            "updated",
        ]
        read_only_fields = ["slug", "status", "status_reason", "labhost", "created", "updated"]


class OwnLabField(serializers.PrimaryKeyRelatedField):
    """A lab of the requesting user's own."""

    def get_queryset(self):
        return Lab.objects.filter(owner=self.context["request"].user)


class SameLabMixin:
    """Checks that every related object is in the same lab as the one being written."""

    def _lab(self, attrs):
        return attrs.get("lab") or getattr(self.instance, "lab", None)

    def check_same_lab(self, attrs, *fields):
        lab = self._lab(attrs)
        for field in fields:
            obj = attrs.get(field)
            if obj is not None and obj.lab_id != lab.id:
                raise serializers.ValidationError({field: "must be in the same lab"})


def validate_name(value: str) -> str:
    if not NAME.match(value):
        raise serializers.ValidationError(
            "use letters, digits, '-', '_' or '.', at most 63 characters, starting with a letter or digit"
        )
    return value


class InterfaceSerializer(serializers.ModelSerializer):
    network = serializers.CharField(
        source="network.name", allow_null=True, required=False, help_text="a network of the same lab"
    )

    class Meta:
        model = Interface
        fields = ["id", "name", "network", "address"]

    def validate_name(self, value):
        if not IFNAME.match(value) or value == "lo":
            raise serializers.ValidationError("at most 15 letters, digits, '-', '_' or '.', and not 'lo'")
        return value


class PortSerializer(serializers.ModelSerializer):
    class Meta:
        model = PortMapping
        fields = ["host_port", "container_port", "protocol"]


class NodeSerializer(SameLabMixin, serializers.ModelSerializer):
    lab = OwnLabField()
    interfaces = InterfaceSerializer(many=True, required=False)
    ports = PortSerializer(many=True, required=False)

    class Meta:
        model = Node
        fields = [
            "id",
            "lab",
            "name",
            "kind",
            "image",
            "host",
            "mode",
            "address",
            "command",
            "env",
            "exec",
            "routes",
            "port_range",
            "publish_range",
            "x",
            "y",
            "interfaces",
            "ports",
        ]
        validators = []  # uniqueness is checked in validate() with a message naming the field

    def validate_name(self, value):
        return validate_name(value)

    def validate(self, attrs):
        self.check_same_lab(attrs, "host")
        lab = self._lab(attrs)
        name = attrs.get("name", getattr(self.instance, "name", None))
        others = Node.objects.filter(lab=lab, name=name).exclude(id=getattr(self.instance, "id", None))
        if others.exists():
            raise serializers.ValidationError({"name": f"lab {lab.slug} already has a node named '{name}'"})
        for iface in attrs.get("interfaces", []):
            name = (iface.pop("network", None) or {}).get("name")
            iface["network"] = Network.objects.filter(lab=lab, name=name).first() if name else None
            if name and iface["network"] is None:
                raise serializers.ValidationError({"interfaces": f"lab {lab.slug} has no network '{name}'"})
        names = [i["name"] for i in attrs.get("interfaces", [])]
        if len(names) != len(set(names)):
            raise serializers.ValidationError({"interfaces": "interface names must be unique"})
        return attrs

    @transaction.atomic
    def create(self, validated):
        interfaces = validated.pop("interfaces", [])
        ports = validated.pop("ports", [])
        node = Node.objects.create(**validated)
        self._write_children(node, interfaces, ports)
        return node

    @transaction.atomic
    def update(self, node, validated):
        interfaces = validated.pop("interfaces", None)
        ports = validated.pop("ports", None)
        node = super().update(node, validated)
        self._write_children(node, interfaces, ports)
        return node

    def _write_children(self, node, interfaces, ports):
        if interfaces is not None:
            keep = []
            for data in interfaces:
                iface, _ = Interface.objects.update_or_create(
                    node=node,
                    name=data["name"],
                    defaults={"network": data.get("network"), "address": data.get("address", "")},
                )
                keep.append(iface.id)
            linked = Link.objects.filter(lab=node.lab).values_list("a_id", "b_id")
            linked_ids = {i for pair in linked for i in pair}
            node.interfaces.exclude(id__in=keep).exclude(id__in=linked_ids).delete()
        if ports is not None:
            node.ports.all().delete()
            PortMapping.objects.bulk_create(PortMapping(node=node, **p) for p in ports)


class NetworkSerializer(SameLabMixin, serializers.ModelSerializer):
    lab = OwnLabField()

    class Meta:
        model = Network
        fields = ["id", "lab", "name", "kind", "subnet", "host", "x", "y"]
        validators = []

    def validate_name(self, value):
        return validate_name(value)

    def validate(self, attrs):
        self.check_same_lab(attrs, "host")
        lab = self._lab(attrs)
        name = attrs.get("name", getattr(self.instance, "name", None))
        others = Network.objects.filter(lab=lab, name=name).exclude(id=getattr(self.instance, "id", None))
        if others.exists():
            raise serializers.ValidationError(
                {"name": f"lab {lab.slug} already has a network named '{name}'"}
            )
        return attrs


class LinkSerializer(SameLabMixin, serializers.ModelSerializer):
    lab = OwnLabField()
    endpoints = serializers.ListField(
        child=serializers.CharField(),
        min_length=2,
        max_length=2,
        help_text="two ends written node:interface; missing interfaces are created",
    )

    class Meta:
        model = Link
        fields = ["id", "lab", "endpoints", "subnet"]

    def to_representation(self, link):
        return {
            "id": link.id,
            "lab": link.lab_id,
            "endpoints": [f"{link.a.node.name}:{link.a.name}", f"{link.b.node.name}:{link.b.name}"],
            "subnet": link.subnet,
        }

    def validate(self, attrs):
        lab = self._lab(attrs)
        ends = []
        for index, endpoint in enumerate(attrs.get("endpoints", [])):
            node_name, sep, if_name = endpoint.partition(":")
            node = Node.objects.filter(lab=lab, name=node_name).first()
            if not sep or node is None or not IFNAME.match(if_name):
                reason = f"endpoint {index} '{endpoint}' must be node:interface of a node in this lab"
                raise serializers.ValidationError({"endpoints": reason})
            ends.append((node, if_name))
        attrs["ends"] = ends
        return attrs

    @transaction.atomic
    def create(self, validated):
        a, b = (Interface.objects.get_or_create(node=n, name=i)[0] for n, i in validated["ends"])
        return Link.objects.create(lab=validated["lab"], a=a, b=b, subnet=validated.get("subnet", ""))

    @transaction.atomic
    def update(self, link, validated):
        if validated.get("ends"):
            link.a, link.b = (
                Interface.objects.get_or_create(node=n, name=i)[0] for n, i in validated["ends"]
            )
        link.subnet = validated.get("subnet", link.subnet)
        link.save()
        return link


class KindSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()
    description = serializers.CharField()
    allowed_fields = serializers.ListField(source="fields", child=serializers.CharField())
    has_interfaces = serializers.BooleanField()
    holds_containers = serializers.BooleanField()
    placed_on_host = serializers.BooleanField()
    default_image = serializers.CharField(allow_null=True)


class OperationSerializer(serializers.ModelSerializer):
    lab = serializers.PrimaryKeyRelatedField(read_only=True)

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


class ImpairmentSerializer(serializers.Serializer):
    node = serializers.CharField(required=False, help_text="with iface: one interface (lab endpoint)")
    iface = serializers.CharField(required=False)
    delay_ms = serializers.FloatField(min_value=0, max_value=60_000, default=0)
    jitter_ms = serializers.FloatField(min_value=0, max_value=60_000, default=0)
    loss_pct = serializers.FloatField(min_value=0, max_value=100, default=0)
    rate_kbit = serializers.IntegerField(min_value=0, max_value=100_000_000, default=0)


class NodeActionSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["stop", "start", "restart"])


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
