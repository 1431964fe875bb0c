"""Address and port management: automatic addresses and ports, stable across edits.

An automatic address comes from its L2 domain's (or its network's) subnet; one handed
out before is kept while it is still valid, so adding a node never renumbers others.
Static addresses are reserved first and never handed out. Automatic ports (Marathon's
PORT0, PORT1, ... and auto-published host ports) work the same way within a host's range.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Literal

from .document import DEFAULT_PORT_RANGE, LabDoc, NodeDoc, PortDoc
from .kinds import kind_of, split_mode
from .problems import Problem, error, join_path
from .resolve import IPNetwork, Resolved, parse_subnet

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass
class Assignments:
    """What the lab was given: addresses by interface and container, ports by slot."""

    interfaces: dict[str, str] = field(default_factory=dict)  # "node:iface" -> "a.b.c.d/p"
    containers: dict[str, str] = field(default_factory=dict)  # container -> "a.b.c.d/p"
    ports: dict[str, int] = field(default_factory=dict)  # "container:index" -> host port
    images: dict[str, str] = field(default_factory=dict)  # image -> digest it was first deployed with
    bridges: dict[str, str] = field(default_factory=dict)  # "host:docker0" -> its gateway address
    gateways: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # host -> {"via": address, "router": name}
    instances: dict[str, str] = field(default_factory=dict)  # app instance -> the agent it runs on

    def as_dict(self) -> dict[str, Any]:
        out = {"interfaces": self.interfaces, "containers": self.containers, "ports": self.ports}
        if self.bridges:
            out["bridges"] = self.bridges
        if self.gateways:
            out["gateways"] = self.gateways
        if self.instances:
            out["instances"] = self.instances
        return {**out, "images": self.images} if self.images else out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Assignments:
        data = data or {}
        return cls(
            dict(data.get("interfaces", {})),
            dict(data.get("containers", {})),
            {k: int(v) for k, v in data.get("ports", {}).items()},
            {str(k): str(v) for k, v in (data.get("images") or {}).items()},
            dict(data.get("bridges") or {}),
            {str(k): dict(v) for k, v in (data.get("gateways") or {}).items()},
            {str(k): str(v) for k, v in (data.get("instances") or {}).items()},
        )


def parse_range(text: str | None, default: str) -> tuple[int, int] | None:
    low, sep, high = (text or default).partition("-")
    try:
        start, end = int(low), int(high if sep else low)
    except ValueError:
        return None
    if not 1 <= start <= end <= 65535:
        return None
    return start, end


def static_ip(text: str | None, subnet: IPNetwork | None = None) -> IPInterface | None:
    """The interface address in `text` (with its prefix, or the subnet's), or None."""
    if not text or text == "auto":
        return None
    try:
        if "/" in text:
            return ipaddress.ip_interface(text)
        prefix = subnet.prefixlen if subnet is not None else 32
        return ipaddress.ip_interface(f"{text}/{prefix}")
    except ValueError:
        return None


def gateway_of(subnet: IPNetwork) -> IPInterface:
    """A container network's gateway on its host (docker0's address): the subnet's first address."""
    return ipaddress.ip_interface(f"{next(subnet.hosts())}/{subnet.prefixlen}")


class _Pool:
    """Free addresses of one subnet, handed out lowest first."""

    def __init__(self, subnet: IPNetwork, reserve_gateway: bool):
        self.subnet = subnet
        self.taken: set[IPAddress] = set()
        if reserve_gateway and subnet.num_addresses > 2:
            self.taken.add(gateway_of(subnet).ip)
        self._cursor = subnet.hosts()

    def reserve(self, ip: IPAddress) -> bool:
        if ip in self.taken:
            return False
        self.taken.add(ip)
        return True

    def take(self) -> IPAddress | None:
        for ip in self._cursor:
            if ip not in self.taken:
                self.taken.add(ip)
                return ip
        return None


def assign(res: Resolved, previous: Assignments | None = None) -> tuple[Assignments, list[Problem]]:
    """Hand out every automatic address and port; report pools that run dry."""
    previous = previous or Assignments()
    out = Assignments()
    problems: list[Problem] = []
    _assign_interfaces(res, previous, out, problems)
    _assign_containers(res, previous, out, problems)
    _assign_ports(res.doc, previous, out, problems)
    _auto_gateways(res, out)
    out.images = dict(previous.images)  # pins stay until a deploy no longer runs the image
    return out, problems


def _assign_interfaces(res: Resolved, prev: Assignments, out: Assignments, problems: list[Any]) -> None:
    pools: dict[str, _Pool] = {}
    wanted: list[Any] = []
    for key, iface in res.interfaces.items():
        domain = res.domains.get(iface.domain) if iface.domain else None
        subnet = domain.subnet if domain else None
        if subnet is None or iface.domain is None:
            continue
        pool = pools.setdefault(iface.domain, _Pool(subnet, reserve_gateway=False))
        ip = static_ip(iface.address, subnet)
        if ip is not None:
            pool.reserve(ip.ip)
        elif not kind_of(res.doc.nodes[iface.node]).bridges_ports:
            wanted.append((key, iface, pool))
    _hand_out(wanted, prev.interfaces, out.interfaces, problems)


def _auto_gateways(res: Resolved, out: Assignments) -> None:
    """A host whose networks hold exactly one router, and that has no default route of its own,
    sends the rest through that router (as a DHCP client would), unless it says `gateway: none`."""
    members: dict[str, list[str]] = {}
    for key, iface in res.interfaces.items():
        if iface.domain:
            members.setdefault(iface.domain, []).append(key)
    for name, node in res.doc.nodes.items():
        kind = kind_of(node)
        if not kind.sandboxed or kind.forwards or node.gateway == "none":
            continue
        if any(route.to == "default" for route in node.routes):
            continue
        routers: dict[str, str | None] = {}
        for iface in res.interfaces.values():
            if iface.node != name or not iface.domain:
                continue
            for key in members[iface.domain]:
                other = res.interfaces[key]
                if other.node != name and kind_of(res.doc.nodes[other.node]).forwards:
                    ip = static_ip(other.address) or static_ip(out.interfaces.get(key))
                    routers.setdefault(other.node, str(ip.ip) if ip else None)
        if len(routers) == 1:
            ((router, via),) = routers.items()
            if via:
                out.gateways[name] = {"via": via, "router": router}


def _assign_containers(res: Resolved, prev: Assignments, out: Assignments, problems: list[Any]) -> None:
    pools: dict[str, _Pool] = {}
    wanted: list[Any] = []
    for name, network in res.container_networks.items():
        subnet = res.subnet_of_network(network)
        if subnet is None:
            continue
        pool = pools.setdefault(network, _Pool(subnet, reserve_gateway=True))
        node = res.doc.nodes[name]
        if split_mode(node.mode)[0] == "bridge" and node.host:
            out.bridges[f"{node.host}:docker0"] = str(gateway_of(subnet))
        ip = static_ip(node.address, subnet)
        if ip is not None:
            pool.reserve(ip.ip)
        else:
            wanted.append((name, None, pool))
    _hand_out(wanted, prev.containers, out.containers, problems)


def _hand_out(wanted: list[Any], previous: dict[str, Any], out: dict[str, Any], problems: list[Any]) -> None:
    """Keep earlier addresses that still fit, then give the rest the lowest free ones."""
    fresh = []
    for key, iface, pool in wanted:
        before = static_ip(previous.get(key))
        if (
            before is not None
            and before.network == pool.subnet
            and before.ip in pool.subnet
            and pool.reserve(before.ip)
        ):
            out[key] = str(before)
        else:
            fresh.append((key, iface, pool))
    for key, iface, pool in fresh:
        ip = pool.take()
        if ip is None:
            path = iface.path if iface is not None else join_path("nodes", key, "address")
            problems.append(error(path, f"no free address is left in {pool.subnet}"))
            continue
        out[key] = f"{ip}/{pool.subnet.prefixlen}"


def host_mode_port(port: PortDoc) -> int | Literal["auto"]:
    """In host mode a port is the host's: `80`, `80:80` and `auto:80` all mean port 80."""
    return port.container if port.container is not None else port.host


def fixed_host_ports(doc: LabDoc, host: str) -> set[int]:
    used: set[int] = set()
    for node in containers_on(doc, host).values():
        base, _ = split_mode(node.mode)
        for port in node.ports:
            value = host_mode_port(port) if base == "host" else port.host
            if isinstance(value, int):
                used.add(value)
    return used


def containers_on(doc: LabDoc, host: str) -> dict[str, NodeDoc]:
    return {n: c for n, c in doc.nodes.items() if kind_of(c).placed_on_host and c.host == host}


def _assign_ports(doc: LabDoc, prev: Assignments, out: Assignments, problems: list[Any]) -> None:
    for host_name, host in doc.nodes.items():
        if not kind_of(host).holds_containers:
            continue
        span = parse_range(host.port_range, DEFAULT_PORT_RANGE)
        if span is None:
            continue  # reported by the check stage
        taken = fixed_host_ports(doc, host_name)
        wanted = []
        for name, node in containers_on(doc, host_name).items():
            base, _ = split_mode(node.mode)
            if base not in ("host", "bridge", "cni"):
                continue
            for index, port in enumerate(node.ports):
                value = host_mode_port(port) if base == "host" else port.host
                if value == "auto":
                    wanted.append((f"{name}:{index}", join_path("nodes", name, "ports", index)))
        fresh = []
        for key, path in wanted:
            before = prev.ports.get(key)
            if before is not None and span[0] <= before <= span[1] and before not in taken:
                taken.add(before)
                out.ports[key] = before
            else:
                fresh.append((key, path))
        candidates = (p for p in range(span[0], span[1] + 1) if p not in taken)
        for key, path in fresh:
            free = next(candidates, None)
            if free is None:
                problems.append(
                    error(path, f"no free port is left in host {host_name}'s range {span[0]}-{span[1]}")
                )
                continue
            taken.add(free)
            out.ports[key] = free


__all__ = ["Assignments", "assign", "parse_range", "parse_subnet", "static_ip"]
