"""Compile a validated lab document into one spec per lab host.

Pure planning: names, wires, addresses, NAT and tunnels are decided here, so the engine
only has to make the host match. Names are derived from what they stand for, so the
same topology always compiles to the same names and an edit changes only what changed.
"""

from __future__ import annotations

import ipaddress
import zlib

from .addressing import Assignments, host_mode_port, static_ip
from .document import LabDoc, NodeDoc
from .images import ImagePolicy, capabilities_for
from .kinds import get_kind, kind_of, split_mode
from .problems import TopologyError, errors_in
from .resolve import DEFAULT_BRIDGE_SUBNET, Resolved, resolve
from .spec import (
    FABRIC,
    AppSpec,
    BridgeSpec,
    InterfaceSpec,
    LabHostSpec,
    PortSpec,
    PublishSpec,
    RouteSpec,
    SandboxSpec,
    VxlanSpec,
    WireEnd,
    WireSpec,
    digest,
)
from .validation import check

DOCKER0 = "docker0"
VXLAN_OVERHEAD = 50
UNDERLAY_MTU = 1500


def short_name(prefix: str, key: str, length: int = 12) -> str:
    """A stable interface name of at most 15 characters for what `key` stands for."""
    return (prefix + digest(key))[: len(prefix) + length]


def fabric_port(interface_key: str) -> str:
    """The fabric-side end of a node interface's veth: where its cable is pulled or impaired."""
    return short_name("v", interface_key)


def vni_of(network: str) -> int:
    return zlib.crc32(network.encode()) % (2**24 - 2) + 1


def compile_lab(
    doc: LabDoc,
    lab: str,
    labhost: str,
    previous: Assignments | None = None,
    images: ImagePolicy | None = None,
) -> tuple[dict[str, LabHostSpec], Assignments]:
    """One spec per lab host (all nodes on `labhost` for now), and the addresses used.

    With an image policy, a refused image is an error and an alias runs its stand-in."""
    assignments, problems = check(doc, previous, images)
    if errors_in(problems):
        raise TopologyError(errors_in(problems))
    res = resolve(doc)
    spec = LabHostSpec(lab=lab, labhost=labhost, name=doc.name)
    _Compiler(doc, res, assignments, spec).run()
    if images is not None:
        for node in [*spec.sandboxes, *spec.apps]:
            node.image = images.image_for(node.image)
    for sandbox in spec.sandboxes:
        sandbox.capabilities += [c for c in capabilities_for(sandbox.image) if c not in sandbox.capabilities]
    running = {node.image for node in [*spec.sandboxes, *spec.apps]}
    spec.pins = {image: ref for image, ref in assignments.images.items() if image in running}
    return {labhost: spec}, assignments


class _Compiler:
    def __init__(self, doc: LabDoc, res: Resolved, assignments: Assignments, spec: LabHostSpec):
        self.doc, self.res, self.asg, self.spec = doc, res, assignments, spec
        self.sandboxes: dict[str, SandboxSpec] = {}
        self.members: dict[str, list] = {}  # L2 domain -> its interfaces, so lookups stay linear
        for iface in res.interfaces.values():
            self.members.setdefault(iface.domain, []).append(iface)
        self.bridge_names: dict[str, str | None] = {}
        self.bridge_hosts = {  # hosts with a bridge-mode container: they forward
            n.host
            for n in doc.nodes.values()
            if kind_of(n).placed_on_host and split_mode(n.mode)[0] == "bridge"
        }

    def run(self) -> None:
        for name, node in self.doc.nodes.items():
            if kind_of(node).sandboxed:
                self.sandboxes[name] = self._sandbox(name, node)
        self._wire_interfaces()
        for name, node in self.doc.nodes.items():
            if kind_of(node).placed_on_host:
                self.spec.apps.append(self._app(name, node))
        self._overlays()
        self.spec.sandboxes = list(self.sandboxes.values())

    def _sandbox(self, name: str, node: NodeDoc) -> SandboxSpec:
        kind = get_kind(node.kind)
        sysctls = {}
        if kind.forwards or self._has_bridge_apps(name):
            sysctls["net.ipv4.ip_forward"] = "1"
        return SandboxSpec(
            name=name,
            kind=node.kind,
            image=node.image or kind.default_image,
            env=dict(node.env),
            exec=list(node.exec),
            files=dict(node.files),
            capabilities=list(kind.capabilities),
            sysctls=sysctls,
            routes=[RouteSpec(r.to, r.via) for r in node.routes],
        )

    def _has_bridge_apps(self, host: str) -> bool:
        return host in self.bridge_hosts

    def _interface_address(self, key: str, text: str | None, subnet) -> list[str]:
        ip = static_ip(text, subnet)
        if ip is not None:
            return [str(ip)]
        return [self.asg.interfaces[key]] if key in self.asg.interfaces else []

    def _domain_bridge(self, domain_key: str) -> str | None:
        if domain_key not in self.bridge_names:
            self.bridge_names[domain_key] = self._name_domain_bridge(domain_key)
        return self.bridge_names[domain_key]

    def _name_domain_bridge(self, domain_key: str) -> str | None:
        """The fabric bridge of an L2 domain (a segment, a switch or a cable), else None.

        Every cable runs through the fabric, so pulling it or impairing it happens there
        and both nodes see a lost carrier, as with a real cable. The name comes from the
        domain's most stable member, so unrelated edits never rename it.
        """
        members = self.members.get(domain_key, [])
        segments = sorted(f"net:{i.network}" for i in members if i.network is not None)
        switches = sorted(
            f"switch:{i.node}" for i in members if kind_of(self.doc.nodes[i.node]).bridges_ports
        )
        cables = sorted(
            "link:" + "|".join(sorted(self.doc.links[i.link].endpoints))
            for i in members
            if i.link is not None
        )
        anchors = segments or switches or cables
        return short_name("s", anchors[0], 10) if anchors else None

    def _wire_interfaces(self) -> None:
        bridges: set[str] = set()
        for key, iface in self.res.interfaces.items():
            if iface.node not in self.sandboxes:
                continue  # switch ports are bridge ports, made by their peers' wires
            domain = self.res.domains.get(iface.domain)
            bridge = self._domain_bridge(iface.domain)
            self.sandboxes[iface.node].interfaces.append(
                InterfaceSpec(iface.name, self._interface_address(key, iface.address, domain.subnet))
            )
            if bridge is not None:
                bridges.add(bridge)
                self.spec.cables[key] = fabric_port(key)
                self.spec.wires.append(
                    WireSpec(
                        WireEnd(iface.node, iface.name),
                        WireEnd(FABRIC, fabric_port(key), bridge=bridge),
                    )
                )
        self.spec.segments = sorted(bridges)

    def _host_bridge(self, host: str) -> tuple[str, ipaddress.IPv4Interface]:
        network = self.res.bridges.get(host)
        subnet = ipaddress.ip_network(
            self.doc.networks[network].subnet if network else DEFAULT_BRIDGE_SUBNET, strict=False
        )
        return DOCKER0, ipaddress.ip_interface(f"{next(subnet.hosts())}/{subnet.prefixlen}")

    def _app(self, name: str, node: NodeDoc) -> AppSpec:
        mode, network = split_mode(node.mode)
        command = [*node.command] if isinstance(node.command, list) else node.command
        if isinstance(command, str):
            command = ["sh", "-c", command]
        app = AppSpec(
            name=name,
            host=node.host,
            image=node.image,
            mode=mode,
            command=command,
            env=dict(node.env),
            exec=list(node.exec),
            files=dict(node.files),
            capabilities=list(kind_of(node).capabilities),
        )
        host = self.sandboxes[node.host]
        if mode == "host":
            for index, port in enumerate(node.ports):
                value = host_mode_port(port)
                if value == "auto":
                    value = self.asg.ports[f"{name}:{index}"]
                app.env[f"PORT{index}"] = str(value)
                app.ports.append(PortSpec(port.protocol, value))
            if node.ports:
                app.env.setdefault("PORT", app.env["PORT0"])
        elif mode == "bridge":
            self._bridge_app(app, node, host)
        elif mode == "overlay":
            self._overlay_app(app, network, host)
        return app

    def _bridge_app(self, app: AppSpec, node: NodeDoc, host: SandboxSpec) -> None:
        bridge, gateway = self._host_bridge(host.name)
        if not any(b.name == bridge for b in host.bridges):
            host.bridges.append(BridgeSpec(bridge, [str(gateway)]))
            host.masquerade.append(str(gateway.network))
        address = self._app_address(app.name, node.address, gateway.network)
        app.interfaces.append(InterfaceSpec("eth0", [address]))
        app.routes.append(RouteSpec("default", str(gateway.ip)))
        self.spec.wires.append(
            WireSpec(WireEnd(app.name, "eth0"), WireEnd(host.name, short_name("vb", app.name, 11), bridge))
        )
        for index, port in enumerate(node.ports):
            host_port = port.host if port.host != "auto" else self.asg.ports[f"{app.name}:{index}"]
            host.publish.append(
                PublishSpec(port.protocol, host_port, address.split("/")[0], port.container, app.name)
            )

    def _app_address(self, name: str, static: str | None, subnet) -> str:
        ip = static_ip(static, subnet)
        return str(ip) if ip is not None else self.asg.containers[name]

    def _overlay_app(self, app: AppSpec, network: str, host: SandboxSpec) -> None:
        subnet = ipaddress.ip_network(self.doc.networks[network].subnet, strict=False)
        bridge = short_name("ov", network, 8)
        mtu = UNDERLAY_MTU - VXLAN_OVERHEAD
        if not any(b.name == bridge for b in host.bridges):
            host.bridges.append(BridgeSpec(bridge, [], mtu=mtu))
        address = self._app_address(app.name, self.doc.nodes[app.name].address, subnet)
        app.interfaces.append(InterfaceSpec("eth0", [address], mtu=mtu))
        self.spec.wires.append(
            WireSpec(
                WireEnd(app.name, "eth0"),
                WireEnd(host.name, short_name("vo", app.name, 11), bridge),
                mtu=mtu,
            )
        )

    def _overlays(self) -> None:
        by_network: dict[str, list[str]] = {}
        for app in self.spec.apps:
            if app.mode == "overlay":
                network = split_mode(self.doc.nodes[app.name].mode)[1]
                hosts = by_network.setdefault(network, [])
                if app.host not in hosts:
                    hosts.append(app.host)
        for network, hosts in by_network.items():
            vteps = {h: self._vtep_address(h) for h in hosts}
            for host in hosts:
                self.sandboxes[host].vxlans.append(
                    VxlanSpec(
                        name=short_name("vx", network, 8),
                        vni=vni_of(network),
                        local=vteps[host],
                        peers=[vteps[h] for h in hosts if h != host],
                        bridge=short_name("ov", network, 8),
                    )
                )

    def _vtep_address(self, host: str) -> str:
        for iface in self.sandboxes[host].interfaces:
            if iface.addresses:
                return iface.addresses[0].split("/")[0]
        raise TopologyError([])  # validation makes sure every overlay host has an address
