"""The registry of node kinds: what each kind of node is and which fields it takes.

A kind registers itself here; adding one never means editing an if-chain elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

COMMON_FIELDS = frozenset({"kind", "position"})


@dataclass(frozen=True)
class PaletteEntry:
    """How the editor offers a kind: a label, the prefix of new names, and the fields a new
    node starts with (`{name}` in a string stands for the new node's name)."""

    label: str
    prefix: str
    template: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeKind:
    """What one kind of node is, for validation, compilation and the editor's palette."""

    name: str
    label: str
    description: str
    fields: frozenset[str]
    has_interfaces: bool = False
    sandboxed: bool = False  # an emulated machine: a sandbox container whose namespace it is
    bridges_ports: bool = False  # its interfaces are ports of one L2 bridge, with no addresses
    holds_containers: bool = False
    forwards: bool = False
    placed_on_host: bool = False  # an application container that runs on a holding node
    needs_image: bool = False
    default_image: str | None = None
    capabilities: tuple[str, ...] = field(default_factory=tuple)
    palette: tuple[PaletteEntry, ...] = field(default_factory=tuple)

    def allows(self, field_name: str) -> bool:
        return field_name in self.fields or field_name in COMMON_FIELDS

    @property
    def has_container(self) -> bool:
        """Whether a running node of this kind is a container one can exec into or restart."""
        return self.sandboxed or self.placed_on_host


REGISTRY: dict[str, NodeKind] = {}


def register(kind: NodeKind) -> NodeKind:
    REGISTRY[kind.name] = kind
    return kind


def get_kind(name: str) -> NodeKind | None:
    return REGISTRY.get(name)


UNKNOWN = NodeKind(name="", label="", description="", fields=frozenset())


def kind_of(node: Any) -> NodeKind:
    """The kind of a document node; an unknown kind (reported by validation) has no traits."""
    return REGISTRY.get(node.kind, UNKNOWN)


def kind_names() -> list[str]:
    return sorted(REGISTRY)


SANDBOX_IMAGE = "wirelab/node:busybox"

register(
    NodeKind(
        name="host",
        label="Host",
        description="An emulated machine (a Docker host or an end host); may hold containers.",
        fields=frozenset(
            {
                "image",
                "env",
                "exec",
                "files",
                "interfaces",
                "routes",
                "gateway",
                "port_range",
                "attributes",
                "publish_range",
                "placement",
            }
        ),
        has_interfaces=True,
        sandboxed=True,
        holds_containers=True,
        default_image=SANDBOX_IMAGE,
        capabilities=("NET_ADMIN", "NET_RAW"),
        palette=(PaletteEntry("Docker host", "host"), PaletteEntry("End host", "pc")),
    )
)
register(
    NodeKind(
        name="router",
        label="Router",
        description="Forwards between its interfaces and has static routes.",
        fields=frozenset({"image", "env", "exec", "files", "interfaces", "routes", "placement"}),
        has_interfaces=True,
        sandboxed=True,
        forwards=True,
        default_image=SANDBOX_IMAGE,
        capabilities=("NET_ADMIN", "NET_RAW"),
        palette=(PaletteEntry("Router", "r"),),
    )
)
register(
    NodeKind(
        name="switch",
        label="Switch",
        description="An L2 bridge joining the links plugged into it.",
        fields=frozenset({"interfaces"}),
        has_interfaces=True,
        bridges_ports=True,
        palette=(PaletteEntry("Switch", "sw"),),
    )
)
register(
    NodeKind(
        name="container",
        label="Container",
        description="An application container on a host, in host, bridge, overlay or none mode.",
        fields=frozenset({"image", "host", "mode", "address", "command", "env", "exec", "files", "ports"}),
        placed_on_host=True,
        needs_image=True,
        # What ordinary servers and clients need: bind low ports, ping, drop to a user.
        capabilities=("NET_BIND_SERVICE", "NET_RAW", "CHOWN", "SETUID", "SETGID", "KILL"),
        palette=(
            PaletteEntry(
                "Container",
                "app",
                {
                    "image": SANDBOX_IMAGE,
                    "mode": "bridge",
                    "command": "mkdir -p /www && echo {name} > /www/index.html"
                    " && exec httpd -f -p 80 -h /www",
                },
            ),
        ),
    )
)

CONTAINER_MODES = ("host", "bridge", "none")
DEFAULT_CONTAINER_MODE = "bridge"


def split_mode(mode: str | None) -> tuple[str, str | None]:
    """`overlay:ov1` -> ("overlay", "ov1"); `cni:net` -> ("cni", "net"); `bridge` -> ("bridge", None)."""
    mode = mode or DEFAULT_CONTAINER_MODE
    if ":" in mode:
        base, _, network = mode.partition(":")
        return base, network
    return mode, None
