"""Compile a validated lab document into one spec per lab host.

Pure planning: names, wires, addresses, NAT and tunnels are decided here, so the engine
only has to make the host match. Names are derived from what they stand for, so the
same topology always compiles to the same names and an edit changes only what changed.
"""

from __future__ import annotations

import copy
import ipaddress
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .addressing import Assignments, IPInterface, gateway_of, host_mode_port, static_ip
from .document import LabDoc, NodeDoc
from .images import ImagePolicy, capabilities_for
from .kinds import kind_of, split_mode
from .names import names_of
from .orchestrator import with_instances
from .problems import TopologyError, error, errors_in
from .resolve import DEFAULT_BRIDGE_SUBNET, IPNetwork, Resolved, resolve
from .services import Endpoint, endpoints
from .spec import (
    FABRIC,
    AppSpec,
    BackendSpec,
    BridgeSpec,
    InterfaceSpec,
    LabHostSpec,
    PortSpec,
    PublishSpec,
    RouteSpec,
    SandboxSpec,
    ServiceSpec,
    StitchSpec,
    VxlanSpec,
    WireEnd,
    WireSpec,
    digest,
)
from .validation import check

DOCKER0 = "docker0"
VXLAN_OVERHEAD = 50
FRR_CONFIG = "/etc/frr/frr.conf"
WIRED_LIST = "/etc/wirelab/interfaces"  # a node's interfaces, one a line: its FRR waits for them
UNDERLAY_MTU = 1500


def short_name(prefix: str, key: str, length: int = 12) -> str:
    """A stable interface name of at most 15 characters for what `key` stands for."""
    return (prefix + digest(key))[: len(prefix) + length]


def fabric_port(interface_key: str) -> str:
    """The fabric-side end of a node interface's veth: where its cable is pulled or impaired."""
    return short_name("v", interface_key)


def vni_of(network: str) -> int:
    return zlib.crc32(network.encode()) % (2**24 - 2) + 1


@dataclass(frozen=True)
class Underlay:
    """What a lab spanning lab hosts is stitched over: each lab host's underlay address, the
    VNI of each stitched segment (handed out centrally, by its fabric bridge's name), and the
    underlay's MTU (a stitched segment carries 50 bytes less)."""

    addresses: dict[str, str]
    vni: Callable[[str], int]
    mtu: int = UNDERLAY_MTU


def compile_lab(
    doc: LabDoc,
    lab: str,
    labhost: str,
    previous: Assignments | None = None,
    images: ImagePolicy | None = None,
    *,
    underlay: Underlay | None = None,
) -> tuple[dict[str, LabHostSpec], Assignments]:
    """One spec per lab host, and the addresses used.

    Every node runs on `labhost` but the hosts and routers a `placement` pins elsewhere (their
    containers with them); a segment with members on several lab hosts is stitched between
    them over the `underlay`. With an image policy, a refused image is an error and an alias
    runs its stand-in."""
    assignments, problems = check(doc, previous, images)
    if errors_in(problems):
        raise TopologyError(errors_in(problems))
    doc = with_instances(doc, assignments.instances)
    where = locations(doc, labhost)
    _check_underlay(doc, where, underlay)
    res = resolve(doc)
    spec = LabHostSpec(lab=lab, labhost=labhost, name=doc.name)
    compiler = _Compiler(doc, res, assignments, spec, where=where, underlay=underlay)
    compiler.run()
    if images is not None:
        built: list[SandboxSpec | AppSpec] = [*spec.sandboxes, *spec.apps]
        for node in built:
            node.image = images.image_for(node.image)
    for sandbox in spec.sandboxes:
        sandbox.capabilities += [c for c in capabilities_for(sandbox.image) if c not in sandbox.capabilities]
    spec.services = compiler.services()
    spec.names = names_of(spec, _apps(doc, assignments.instances))
    specs = _split(spec, where, compiler.stitched, underlay, compiler.labels)
    for part in specs.values():
        running = {s.image for s in part.sandboxes} | {a.image for a in part.apps}
        part.pins = {image: ref for image, ref in assignments.images.items() if image in running}
    return specs, assignments


T = TypeVar("T")


def _apps(doc: LabDoc, placement: dict[str, str]) -> dict[str, list[str]] | None:
    """Each app's placed instances; None for a lab with no orchestrator."""
    if doc.orchestrator is None:
        return None
    return {app: [i for i in placement if i.rpartition(".")[0] == app] for app in doc.apps}


def _checked(value: T | None) -> T:
    """A value validation has made sure of: the compiler runs on checked documents only."""
    if value is None:
        raise TopologyError([error("", "the document changed between its check and its compilation")])
    return value


def locations(doc: LabDoc, labhost: str) -> dict[str, str]:
    """The lab host of every host, router and container: its own `placement`, its host's, or
    the lab's."""
    where = {}
    for name, node in doc.nodes.items():
        if kind_of(node).sandboxed:
            where[name] = node.placement.labhost if node.placement else labhost
    for name, node in doc.nodes.items():
        if kind_of(node).placed_on_host and node.host in where:
            where[name] = where[node.host]
    return where


def _check_underlay(doc: LabDoc, where: dict[str, str], underlay: Underlay | None) -> None:
    """Every lab host of a lab spanning several has an address to stitch over (without an
    underlay, the specs are only planned: their segments are not stitched)."""
    if len(set(where.values())) < 2 or underlay is None:
        return
    known = underlay.addresses
    problems = [
        error(f"nodes.{name}.placement.labhost", f"lab host '{host}' has no underlay address to stitch over")
        for name, host in where.items()
        if doc.nodes[name].placement is not None and host not in known
    ]
    unpinned = {host for name, host in where.items() if doc.nodes[name].placement is None} - set(known)
    problems += [
        error(
            "placement.labhost",
            f"lab host '{host}', where the lab runs, has no underlay address to stitch over",
        )
        for host in sorted(unpinned)
    ]
    if problems:
        raise TopologyError(problems)


def _split(
    whole: LabHostSpec,
    where: dict[str, str],
    stitched: dict[str, list[str]],
    underlay: Underlay | None,
    labels: dict[str, str],
) -> dict[str, LabHostSpec]:
    """The lab's one spec cut into a spec per lab host, each with the stitches of its segments."""
    hosts = sorted(set(where.values()))
    if len(hosts) < 2:
        whole.labhost = hosts[0] if hosts else whole.labhost
        return {whole.labhost: whole}
    parts = {
        host: LabHostSpec(
            lab=whole.lab,
            labhost=host,
            name=whole.name,
            part=host,
            pins=dict(whole.pins),
            services=whole.services,
            names=whole.names,
        )
        for host in hosts
    }
    for sandbox in whole.sandboxes:
        parts[where[sandbox.name]].sandboxes.append(sandbox)
    for app in whole.apps:
        parts[where[app.name]].apps.append(app)
    for wire in whole.wires:
        node = wire.b.node if wire.a.node == FABRIC else wire.a.node
        parts[where[node]].wires.append(wire)
    for key, port in whole.cables.items():
        parts[where[key.split(":", 1)[0]]].cables[key] = port
    for part in parts.values():
        part.segments = sorted({w.b.bridge for w in part.wires if w.b.node == FABRIC and w.b.bridge})
    for bridge, members in stitched.items():
        assert underlay is not None  # only then are segments stitched
        vni = underlay.vni(bridge)
        for host in members:
            local = underlay.addresses[host]
            parts[host].stitches.append(
                StitchSpec(
                    name=short_name("t", f"{bridge}|{vni}|{local}", 10),  # made anew if either changes
                    vni=vni,
                    bridge=bridge,
                    local=local,
                    peers=[underlay.addresses[h] for h in members if h != host],
                    mtu=underlay.mtu - VXLAN_OVERHEAD,
                    segment=labels.get(bridge, ""),
                )
            )
    return parts


class _Compiler:
    def __init__(
        self,
        doc: LabDoc,
        res: Resolved,
        assignments: Assignments,
        spec: LabHostSpec,
        *,
        where: dict[str, str],
        underlay: Underlay | None,
    ):
        self.doc, self.res, self.asg, self.spec = doc, res, assignments, spec
        self.where, self.underlay = where, underlay
        self.stitched: dict[str, list[str]] = {}  # fabric bridge -> the lab hosts it spans
        self.labels: dict[str, str] = {}  # fabric bridge -> what it is, for people
        self.sandboxes: dict[str, SandboxSpec] = {}
        self.members: dict[str, list[Any]] = {}  # L2 domain -> its interfaces, so lookups stay linear
        for iface in res.interfaces.values():
            self.members.setdefault(_checked(iface.domain), []).append(iface)
        self.bridge_names: dict[str, str | None] = {}
        self.bridge_hosts = {  # hosts with a bridge-mode (or CNI) container: they forward
            n.host
            for n in doc.nodes.values()
            if kind_of(n).placed_on_host and split_mode(n.mode)[0] in ("bridge", "cni")
        }

    def run(self) -> None:
        for name, node in self.doc.nodes.items():
            if kind_of(node).sandboxed:
                self.sandboxes[name] = self._sandbox(name, node)
        self._wire_interfaces()
        for sandbox in self.sandboxes.values():
            if FRR_CONFIG in sandbox.files and sandbox.interfaces:  # FRR starts once they are wired
                sandbox.files[WIRED_LIST] = "".join(f"{i.name}\n" for i in sandbox.interfaces)
        for name, node in self.doc.nodes.items():
            if kind_of(node).placed_on_host:
                self.spec.apps.append(self._app(name, node))
        self._overlays()
        self.spec.sandboxes = list(self.sandboxes.values())

    def _sandbox(self, name: str, node: NodeDoc) -> SandboxSpec:
        kind = kind_of(node)
        sysctls = {}
        if kind.forwards or self._has_bridge_apps(name):
            sysctls["net.ipv4.ip_forward"] = "1"
        return SandboxSpec(
            name=name,
            kind=node.kind,
            image=_checked(node.image or kind.default_image),
            env=dict(node.env),
            exec=list(node.exec),
            files=dict(node.files),
            capabilities=list(kind.capabilities),
            sysctls=sysctls,
            routes=[RouteSpec(r.to, r.via) for r in node.routes] + self._gateway(name),
        )

    def _gateway(self, name: str) -> list[RouteSpec]:
        """The default route `gateway: auto` gave the host (see `addressing._auto_gateways`)."""
        given = self.asg.gateways.get(name)
        return [RouteSpec("default", given["via"])] if given else []

    def _has_bridge_apps(self, host: str) -> bool:
        return host in self.bridge_hosts

    def _interface_address(self, key: str, text: str | None, subnet: IPNetwork | None) -> list[str]:
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
        if not anchors:
            return None
        bridge = short_name("s", anchors[0], 10)
        kind, _, what = anchors[0].partition(":")
        self.labels[bridge] = {"net": what, "switch": f"switch {what}"}.get(kind, what.replace("|", " -- "))
        return bridge

    def _wire_interfaces(self) -> None:
        bridges: set[str] = set()
        for key, iface in self.res.interfaces.items():
            if iface.node not in self.sandboxes:
                continue  # switch ports are bridge ports, made by their peers' wires
            domain_key = _checked(iface.domain)
            domain = self.res.domains[domain_key]
            bridge = self._domain_bridge(domain_key)
            mtu = self._stitched_mtu(domain_key, bridge)
            self.sandboxes[iface.node].interfaces.append(
                InterfaceSpec(iface.name, self._interface_address(key, iface.address, domain.subnet), mtu)
            )
            if bridge is not None:
                bridges.add(bridge)
                self.spec.cables[key] = fabric_port(key)
                self.spec.wires.append(
                    WireSpec(
                        WireEnd(iface.node, iface.name),
                        WireEnd(FABRIC, fabric_port(key), bridge=bridge),
                        mtu=mtu,
                    )
                )
        self.spec.segments = sorted(bridges)

    def _stitched_mtu(self, domain_key: str, bridge: str | None) -> int | None:
        """A segment whose members run on several lab hosts is stitched over the underlay: its
        frames carry a VXLAN header there, so its interfaces get 50 bytes less."""
        hosts = sorted({self.where[i.node] for i in self.members.get(domain_key, []) if i.node in self.where})
        if bridge is None or len(hosts) < 2 or self.underlay is None:
            return None
        self.stitched[bridge] = hosts
        return self.underlay.mtu - VXLAN_OVERHEAD

    def _host_bridge(self, host: str) -> tuple[str, IPInterface]:
        network = self.res.bridges.get(host)
        subnet = ipaddress.ip_network(
            _checked(self.doc.networks[network].subnet) if network else DEFAULT_BRIDGE_SUBNET, strict=False
        )
        return DOCKER0, gateway_of(subnet)

    def _app(self, name: str, node: NodeDoc) -> AppSpec:
        mode, network = split_mode(node.mode)
        command = [*node.command] if isinstance(node.command, list) else node.command
        if isinstance(command, str):
            command = ["sh", "-c", command]
        app = AppSpec(
            name=name,
            host=_checked(node.host),
            image=_checked(node.image),
            mode=mode,
            command=command,
            env=dict(node.env),
            exec=list(node.exec),
            files=dict(node.files),
            capabilities=list(kind_of(node).capabilities),
        )
        host = self.sandboxes[app.host]
        if mode == "host":
            for index, port in enumerate(node.ports):
                value = host_mode_port(port)
                if value == "auto":
                    value = self.asg.ports[f"{name}:{index}"]
                app.env[f"PORT{index}"] = str(value)
                if port.name:
                    app.env[f"PORT_{port.name.upper()}"] = str(value)
                app.ports.append(PortSpec(port.protocol, value))
            if node.ports:
                app.env.setdefault("PORT", app.env["PORT0"])
                app.env.setdefault("PORTS", ",".join(app.env[f"PORT{i}"] for i in range(len(node.ports))))
        elif mode == "bridge":
            self._bridge_app(app, node, host)
        elif mode == "overlay":
            self._overlay_app(app, _checked(network), host)
        elif mode == "cni":
            self._cni_app(app, node, _checked(network))
        return app

    def _cni_app(self, app: AppSpec, node: NodeDoc, network: str) -> None:
        """The network's configuration list, named for it, and the ports the runtime asks the
        chain to map (CNI's portMappings capability)."""
        config = {
            "cniVersion": "1.0.0",
            **copy.deepcopy(self.doc.networks[network].config or {}),
            "name": network,
        }
        mappings = [
            {
                "hostPort": port.host if port.host != "auto" else self.asg.ports[f"{app.name}:{index}"],
                "containerPort": port.container,
                "protocol": port.protocol,
            }
            for index, port in enumerate(node.ports)
        ]
        app.cni = {"network": network, "config": config, "port_mappings": mappings}

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
                PublishSpec(
                    port.protocol, host_port, address.split("/")[0], _checked(port.container), app.name
                )
            )

    def _app_address(self, name: str, static: str | None, subnet: IPNetwork) -> str:
        ip = static_ip(static, subnet)
        return str(ip) if ip is not None else self.asg.containers[name]

    def _overlay_app(self, app: AppSpec, network: str, host: SandboxSpec) -> None:
        subnet = ipaddress.ip_network(_checked(self.doc.networks[network].subnet), strict=False)
        bridge = short_name("ov", network, 8)
        mtu = self._overlay_mtu(network)
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

    def services(self) -> list[ServiceSpec]:
        """Every service with its backends' addresses and ports (validated: each has them)."""
        out = []
        for name, service in self.doc.services.items():
            found, _ = endpoints(self.doc, name, service, self._first_address, self.asg.ports)
            backends = [BackendSpec(e.node, e.address, e.port, e.host, self._inner(e)) for e in found]
            out.append(ServiceSpec(name, service.address, service.port, service.protocol, backends))
        return out

    def _inner(self, endpoint: Endpoint) -> str:
        """A bridge-mode backend's own address and port: its host DNATs there directly (a second
        DNAT, to its published port, would not happen: a connection is NATed once per hook)."""
        app = next((a for a in self.spec.apps if a.name == endpoint.node), None)
        if not endpoint.inner_port or app is None or not app.interfaces or not app.interfaces[0].addresses:
            return ""
        return f"{app.interfaces[0].addresses[0].split('/')[0]}:{endpoint.inner_port}"

    def _first_address(self, host: str) -> str | None:
        sandbox = self.sandboxes.get(host)
        for iface in sandbox.interfaces if sandbox else []:
            if iface.addresses:
                return iface.addresses[0].split("/")[0]
        return None

    def _overlay_mtu(self, network: str) -> int:
        """50 bytes less than the smallest MTU of the interfaces its hosts' tunnels start on."""
        hosts = {n.host for n in self.doc.nodes.values() if n.mode == f"overlay:{network}"}
        under = [self._vtep_interface(h).mtu or UNDERLAY_MTU for h in hosts if h in self.sandboxes]
        return min(under, default=UNDERLAY_MTU) - VXLAN_OVERHEAD

    def _overlays(self) -> None:
        by_network: dict[str, list[str]] = {}
        for app in self.spec.apps:
            if app.mode == "overlay":
                network = _checked(split_mode(self.doc.nodes[app.name].mode)[1])
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
        return self._vtep_interface(host).addresses[0].split("/")[0]

    def _vtep_interface(self, host: str) -> InterfaceSpec:
        for iface in self.sandboxes[host].interfaces:
            if iface.addresses:
                return iface
        raise TopologyError([])  # validation makes sure every overlay host has an address
