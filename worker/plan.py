"""Pure planning: what each namespace of a lab must hold, worked out from the spec.

Kept apart from the code that touches the kernel so it is testable without privileges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from topology.spec import FABRIC, OWN_NAMESPACE_MODES, LabHostSpec, StitchSpec, VxlanSpec


@dataclass
class Port:
    """An interface the namespace must have, made by the engine (a veth end)."""

    name: str
    addresses: list[str] = field(default_factory=list)
    mtu: int | None = None
    bridge: str | None = None
    note: str = ""  # after the lab's tag in the alias: "node:iface" on a node's cable end


@dataclass
class NamespacePlan:
    """Everything one namespace of the lab must hold."""

    owner: str  # a node name, or FABRIC
    bridges: dict[str, Port] = field(default_factory=dict)
    ports: dict[str, Port] = field(default_factory=dict)
    vxlans: list[VxlanSpec] = field(default_factory=list)
    stitches: list[StitchSpec] = field(default_factory=list)  # the fabric's tunnels to other lab hosts
    routes: list[tuple[str, str]] = field(default_factory=list)

    @property
    def tunnels(self) -> list[VxlanSpec | StitchSpec]:
        return [*self.vxlans, *self.stitches]

    def owned_names(self) -> set[str]:
        return set(self.bridges) | set(self.ports) | {v.name for v in self.tunnels}


def namespace_plans(spec: LabHostSpec) -> dict[str, NamespacePlan]:
    """Plans by namespace owner: every sandbox, every app with its own namespace, the fabric."""
    plans: dict[str, NamespacePlan] = {}

    def plan(owner: str) -> NamespacePlan:
        return plans.setdefault(owner, NamespacePlan(owner))

    if spec.segments or any(FABRIC in (w.a.node, w.b.node) for w in spec.wires):
        fabric = plan(FABRIC)
        for bridge in spec.segments:
            fabric.bridges[bridge] = Port(bridge)
        fabric.stitches = list(spec.stitches)
    addresses: dict[tuple[str, str], tuple[list[str], int | None]] = {}
    for sandbox in spec.sandboxes:
        node = plan(sandbox.name)
        for made in sandbox.bridges:
            node.bridges[made.name] = Port(made.name, list(made.addresses), made.mtu)
        node.vxlans = list(sandbox.vxlans)
        node.routes = [(r.to, r.via) for r in sandbox.routes]
        for iface in sandbox.interfaces:
            addresses[(sandbox.name, iface.name)] = (iface.addresses, iface.mtu)
    for app in spec.apps:
        if app.mode in OWN_NAMESPACE_MODES:
            node = plan(app.name)
            node.routes = [(r.to, r.via) for r in app.routes]
            for iface in app.interfaces:
                addresses[(app.name, iface.name)] = (iface.addresses, iface.mtu)
    for wire in spec.wires:
        for end, other in ((wire.a, wire.b), (wire.b, wire.a)):
            wanted, mtu = addresses.get((end.node, end.ifname), ([], None))
            note = f"{other.node}:{other.ifname}" if end.bridge else ""
            plan(end.node).ports[end.ifname] = Port(
                end.ifname, list(wanted), mtu or wire.mtu, end.bridge, note
            )
    return plans
