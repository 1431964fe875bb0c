"""The per-host spec: a plain, versioned, JSON-serialisable description of what must
exist on one lab host for one lab. It is the seam between the web side and the engine.

Everything here is data: no Django, no SDK handles. The engine (`worker/`) reads it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from typing import Any, TypeVar, cast, get_args, get_origin, get_type_hints

SPEC_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 lacks cables and app ports: read with them empty
FABRIC = "@fabric"  # the lab's fabric namespace, as the owner of a wire end


@dataclass
class RouteSpec:
    """A route in a node: `to` is a CIDR or `default`."""

    to: str
    via: str


@dataclass
class InterfaceSpec:
    """An interface inside a node's namespace, with its addresses."""

    name: str
    addresses: list[str] = field(default_factory=list)
    mtu: int | None = None


@dataclass
class WireEnd:
    """One end of a veth pair: in a node (by node name) or in the fabric namespace."""

    node: str
    ifname: str
    bridge: str | None = None  # fabric or node bridge the end is enslaved to


@dataclass
class WireSpec:
    """A veth pair: a cable between two nodes, or a node's port on a bridge."""

    a: WireEnd
    b: WireEnd
    mtu: int | None = None

    @property
    def key(self) -> str:
        return f"{self.a.node}:{self.a.ifname}={self.b.node}:{self.b.ifname}"


@dataclass
class PublishSpec:
    """A published port: `protocol` traffic to the host's `host_port` goes to `address:port`."""

    protocol: str
    host_port: int
    address: str
    port: int
    container: str


@dataclass
class PortSpec:
    """A port a host-mode app takes on its host's stack (and waits for at start)."""

    protocol: str
    port: int


@dataclass
class BridgeSpec:
    """A Linux bridge inside a node: the docker0-like bridge or an overlay's local bridge."""

    name: str
    addresses: list[str] = field(default_factory=list)
    mtu: int | None = None


@dataclass
class VxlanSpec:
    """A VXLAN end in a host, enslaved to the overlay's local bridge, flooding to peers."""

    name: str
    vni: int
    local: str
    peers: list[str]
    bridge: str
    port: int = 4789


@dataclass
class StitchSpec:
    """A VXLAN end in the lab's fabric namespace that carries one of its segments to the same
    segment's bridge on other lab hosts, over the underlay. Its socket lives in the lab host's
    underlay namespace (where it is made), the device in the fabric."""

    name: str
    vni: int
    bridge: str
    local: str  # this lab host's underlay address
    peers: list[str]  # the other lab hosts' underlay addresses
    mtu: int
    port: int = 4789
    segment: str = ""  # what it carries, for people: a network's name, "switch NAME" or a cable's ends


@dataclass
class BackendSpec:
    """One backend of a service: the node it stands for, and where it is reached."""

    node: str
    address: str
    port: int
    host: str = ""  # the host it runs on (or is)
    inner: str = ""  # a bridge-mode container's own address:port, what its own host DNATs to


@dataclass
class ServiceSpec:
    """A virtual IP and port, DNATed by every host and router of the lab to one of its backends
    that runs (nftables numgen, round robin)."""

    name: str
    address: str
    port: int
    protocol: str
    backends: list[BackendSpec] = field(default_factory=list)


@dataclass
class NamesSpec:
    """The lab's names for its embedded DNS: `records` by scope ("lab", "bridge:HOST",
    "overlay:BRIDGE") -> name -> addresses; `views`: each namespace's owner -> the scopes it
    resolves in, the narrowest first (a container's name means its address on a shared network)."""

    records: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    views: dict[str, list[str]] = field(default_factory=dict)
    srv: dict[str, list[list[Any]]] = field(
        default_factory=dict
    )  # "_app._tcp.marathon.mesos" -> [[target, port]]


@dataclass
class SandboxSpec:
    """An emulated machine (host or router): a long-lived container whose netns it is."""

    name: str
    kind: str
    image: str
    env: dict[str, str] = field(default_factory=dict)
    exec: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    interfaces: list[InterfaceSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    bridges: list[BridgeSpec] = field(default_factory=list)
    vxlans: list[VxlanSpec] = field(default_factory=list)
    publish: list[PublishSpec] = field(default_factory=list)
    masquerade: list[str] = field(default_factory=list)  # source subnets leaving via the host
    files: dict[str, str] = field(default_factory=dict)  # path -> content, put in before it starts

    def container_hash(self) -> str:
        """What, if changed, needs a new container (the rest is rewired in place; sysctls are set
        in place too: a Docker host that gets its first bridge container starts forwarding, as
        dockerd would, without losing what runs in it)."""
        made = [self.kind, self.image, self.env, self.capabilities]
        return digest([*made, self.files] if self.files else made)  # labs without files keep their hash


@dataclass
class AppSpec:
    """An application container on an emulated host, in one of the primer's modes."""

    name: str
    host: str
    image: str
    mode: str  # host | bridge | overlay | none
    command: list[str] | None = None
    env: dict[str, str] = field(default_factory=dict)
    exec: list[str] = field(default_factory=list)
    capabilities: list[str] = field(default_factory=list)
    interfaces: list[InterfaceSpec] = field(default_factory=list)
    routes: list[RouteSpec] = field(default_factory=list)
    ports: list[PortSpec] = field(default_factory=list)  # host mode: taken on the host
    files: dict[str, str] = field(default_factory=dict)  # path -> content, put in before it starts
    cni: dict[str, Any] = field(default_factory=dict)  # cni mode: {network, config (the list), port_mappings}

    def container_hash(self) -> str:
        made = [self.host, self.image, self.mode, self.command, self.env, self.capabilities]
        return digest([*made, self.files] if self.files else made)


@dataclass
class LabHostSpec:
    """Everything one lab host must hold for one lab."""

    lab: str  # the lab's ownership tag
    labhost: str
    name: str = ""
    version: int = SPEC_VERSION
    segments: list[str] = field(default_factory=list)  # bridges in the fabric namespace
    sandboxes: list[SandboxSpec] = field(default_factory=list)
    apps: list[AppSpec] = field(default_factory=list)
    wires: list[WireSpec] = field(default_factory=list)
    cables: dict[str, str] = field(default_factory=dict)  # "node:iface" -> its fabric end
    pins: dict[str, str] = field(default_factory=dict)  # image -> the digest it was first deployed with
    part: str = ""  # a lab spanning lab hosts: this host's part, which names its fabric namespace
    stitches: list[StitchSpec] = field(default_factory=list)
    services: list[ServiceSpec] = field(default_factory=list)
    names: NamesSpec = field(default_factory=NamesSpec)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LabHostSpec:
        if data.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"spec version {data.get('version')!r} is not one of {READABLE_VERSIONS}")
        spec: LabHostSpec = _build(cls, {**data, "version": SPEC_VERSION})
        return spec

    @classmethod
    def empty(cls, lab: str, labhost: str) -> LabHostSpec:
        """Destroying a lab is converging to this."""
        return cls(lab=lab, labhost=labhost)

    def node_names(self) -> list[str]:
        return [s.name for s in self.sandboxes] + [a.name for a in self.apps]

    def own_namespace_apps(self) -> list[str]:
        """Apps that get a namespace of their own (held by an infra container), wired before they start."""
        return [a.name for a in self.apps if a.mode in OWN_NAMESPACE_MODES]

    def warmable(self) -> list[SandboxSpec]:
        """The sandboxes a lab host's warm sandbox (started ahead, see worker/pool.py) can become
        exactly: the standard capabilities, no environment of their own (fixed when a container is
        made), no sysctl but forwarding (set afterwards in its namespace), and no host-mode app
        on them (Docker copies a joined container's hostname into the app when it makes it, so
        the app would carry the warm sandbox's name)."""
        joined = {a.host for a in self.apps if a.mode == "host"}
        return [
            s
            for s in self.sandboxes
            if sorted(s.capabilities) == sorted(WARM_CAPABILITIES)
            and not s.env
            and set(s.sysctls) <= WARM_SYSCTLS
            and s.name not in joined
        ]

    def containers(self) -> int:
        """Containers the lab host runs for it: a sandbox per node, an app each, and their holders."""
        return len(self.sandboxes) + len(self.apps) + len(self.own_namespace_apps())


OWN_NAMESPACE_MODES = ("bridge", "overlay", "cni")  # apps with a namespace of their own, held for them
WARM_CAPABILITIES = ("NET_ADMIN", "NET_RAW")  # what warm sandboxes are made with: a host's or router's
WARM_SYSCTLS = frozenset({"net.ipv4.ip_forward"})  # what a claimed one can still be given


def digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


T = TypeVar("T")


def from_data(cls: type[T], data: Any) -> T:
    """A spec dataclass from its plain data (what `asdict` gave)."""
    return _build(cls, data)


def _build(cls: type[T], data: Any) -> T:
    """Rebuild nested dataclasses from plain data."""
    hints = get_type_hints(cls)
    kwargs = {}
    for f in fields(cast(Any, cls)):
        if f.name in data:
            kwargs[f.name] = _convert(hints[f.name], data[f.name])
    return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin is list:
        (item,) = get_args(hint)
        return [_convert(item, v) for v in value]
    args = [a for a in get_args(hint) if a is not type(None)]
    if args and origin is not dict:
        hint = args[0]
    if isinstance(hint, type) and is_dataclass(hint):
        return _build(hint, value)
    return value
