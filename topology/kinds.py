"""The registry of node kinds: what each kind of node is and which fields it takes.

A kind registers itself here; adding one never means editing an if-chain elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COMMON_FIELDS = frozenset({"kind", "position"})


@dataclass(frozen=True)
class NodeKind:
    """What one kind of node is, for validation, compilation and the editor's palette."""

    name: str
    label: str
    description: str
    fields: frozenset[str]
    has_interfaces: bool = False
    holds_containers: bool = False
    forwards: bool = False
    placed_on_host: bool = False
    needs_image: bool = False
    default_image: str | None = None
    capabilities: tuple[str, ...] = field(default_factory=tuple)

    def allows(self, field_name: str) -> bool:
        return field_name in self.fields or field_name in COMMON_FIELDS


REGISTRY: dict[str, NodeKind] = {}


def register(kind: NodeKind) -> NodeKind:
    REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> NodeKind | None:
    return REGISTRY.get(name)


def kind_names() -> list[str]:
    return sorted(REGISTRY)


SANDBOX_IMAGE = "wirelab/node:busybox"

register(
    NodeKind(
        name="host",
        label="Host",
        description="An emulated machine (a Docker host or an end host); may hold containers.",
        fields=frozenset({"image", "env", "exec", "interfaces", "routes", "port_range", "publish_range"}),
        has_interfaces=True,
        holds_containers=True,
        default_image=SANDBOX_IMAGE,
        capabilities=("NET_ADMIN", "NET_RAW"),
    )
)
register(
    NodeKind(
        name="router",
        label="Router",
        description="Forwards between its interfaces and has static routes.",
        fields=frozenset({"image", "env", "exec", "interfaces", "routes"}),
        has_interfaces=True,
        forwards=True,
        default_image=SANDBOX_IMAGE,
        capabilities=("NET_ADMIN", "NET_RAW"),
    )
)
register(
    NodeKind(
        name="switch",
        label="Switch",
        description="An L2 bridge joining the links plugged into it.",
        fields=frozenset({"interfaces"}),
        has_interfaces=True,
    )
)
register(
    NodeKind(
        name="container",
        label="Container",
        description="An application container on a host, in host, bridge, overlay or none mode.",
        fields=frozenset({"image", "host", "mode", "address", "command", "env", "exec", "ports"}),
        placed_on_host=True,
        needs_image=True,
        # What ordinary servers and clients need: bind low ports, ping, drop to a user.
        capabilities=("NET_BIND_SERVICE", "NET_RAW", "CHOWN", "SETUID", "SETGID", "KILL"),
    )
)

CONTAINER_MODES = ("host", "bridge", "none")
DEFAULT_CONTAINER_MODE = "bridge"


def split_mode(mode: str | None) -> tuple[str, str | None]:
    """`overlay:ov1` -> ("overlay", "ov1"); `bridge` -> ("bridge", None)."""
    mode = mode or DEFAULT_CONTAINER_MODE
    if ":" in mode:
        base, _, network = mode.partition(":")
        return base, network
    return mode, None
