"""Resolve stage: who is attached to what.

Works out every interface (declared or implied by a link), the L2 domain it sits in
(segments, links and switches joined together) and the subnet automatic addresses come
from, and which network each container is on. Reference problems are collected, not
raised, so that validation can report all of them at once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .document import LabDoc
from .kinds import get_kind, kind_of, split_mode
from .problems import Problem, error, join_path

DEFAULT_BRIDGE_SUBNET = "198.19.0.0/24"

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass
class Interface:
    """An interface of a host, router or switch, as the lab will have it."""

    node: str
    name: str
    path: str
    network: str | None = None
    link: int | None = None
    address: str | None = None
    domain: str | None = None

    @property
    def key(self) -> str:
        return f"{self.node}:{self.name}"


@dataclass
class Domain:
    """An L2 broadcast domain: the subnet its automatic addresses come from."""

    name: str
    subnet: IPNetwork | None = None
    subnet_path: str = ""
    members: list[str] = field(default_factory=list)


@dataclass
class Resolved:
    """The lab with its references followed; built even when some are broken."""

    doc: LabDoc
    interfaces: dict[str, Interface] = field(default_factory=dict)
    domains: dict[str, Domain] = field(default_factory=dict)
    bridges: dict[str, str] = field(default_factory=dict)  # host -> bridge network name
    container_networks: dict[str, str] = field(default_factory=dict)  # container -> network
    problems: list[Problem] = field(default_factory=list)

    def subnet_of_network(self, name: str) -> IPNetwork | None:
        if name in self.doc.networks:
            return parse_subnet(self.doc.networks[name].subnet)
        if name.endswith("/docker0"):
            return ipaddress.ip_network(DEFAULT_BRIDGE_SUBNET)
        return None


def parse_subnet(text: str | None) -> IPNetwork | None:
    if not text:
        return None
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def default_bridge_name(host: str) -> str:
    """The implicit docker0-like bridge of a host that declares none."""
    return f"{host}/docker0"


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        while self.parent[item] != item:
            self.parent[item] = self.parent[self.parent[item]]
            item = self.parent[item]
        return item

    def union(self, a: str, b: str) -> None:
        self.parent[self.find(a)] = self.find(b)


def resolve(doc: LabDoc) -> Resolved:
    res = Resolved(doc)
    _collect_interfaces(res)
    _join_domains(res)
    _place_containers(res)
    return res


def _collect_interfaces(res: Resolved) -> None:
    doc = res.doc
    for node_name, node in doc.nodes.items():
        for if_name, iface in node.interfaces.items():
            path = join_path("nodes", node_name, "interfaces", if_name)
            res.interfaces[f"{node_name}:{if_name}"] = Interface(
                node_name, if_name, path, network=iface.network, address=iface.address
            )
            if iface.network is not None:
                net = doc.networks.get(iface.network)
                if net is None:
                    res.problems.append(error(path + ".network", f"no network named '{iface.network}'"))
                elif net.kind != "segment":
                    res.problems.append(
                        error(
                            path + ".network",
                            f"'{iface.network}' is a {net.kind} network; interfaces attach to segments "
                            "(containers join bridge and overlay networks through their mode)",
                        )
                    )
    for index, link in enumerate(doc.links):
        for end_index, endpoint in enumerate(link.endpoints):
            path = join_path("links", index, "endpoints", end_index)
            node_name, sep, if_name = endpoint.partition(":")
            if not sep or not node_name or not if_name:
                res.problems.append(error(path, f"'{endpoint}' is not written node:interface"))
                continue
            found = doc.nodes.get(node_name)
            if found is None:
                res.problems.append(error(path, f"no node named '{node_name}'"))
                continue
            kind = get_kind(found.kind)
            if kind is not None and not kind.has_interfaces:
                res.problems.append(
                    error(path, f"'{node_name}' is a {found.kind}; links join hosts, routers and switches")
                )
                continue
            key = f"{node_name}:{if_name}"
            joined = res.interfaces.get(key)
            if joined is None:
                joined = Interface(node_name, if_name, path)
                res.interfaces[key] = joined
            if joined.network is not None:
                res.problems.append(
                    error(path, f"{key} is attached to network '{joined.network}' and cannot also be linked")
                )
            elif joined.link is not None:
                res.problems.append(error(path, f"{key} is already used by links[{joined.link}]"))
            else:
                joined.link = index
        if len(link.endpoints) == 2 and link.endpoints[0] == link.endpoints[1]:
            res.problems.append(error(join_path("links", index), "a link cannot join an interface to itself"))


def _join_domains(res: Resolved) -> None:
    doc = res.doc
    uf = _UnionFind()
    for key, iface in res.interfaces.items():
        if iface.network is not None and iface.network in doc.networks:
            uf.union(f"if:{key}", f"net:{iface.network}")
        elif iface.link is not None:
            uf.union(f"if:{key}", f"link:{iface.link}")
        else:
            uf.find(f"if:{key}")
        node = doc.nodes.get(iface.node)
        if node is not None and kind_of(node).bridges_ports:
            uf.union(f"if:{key}", f"switch:{iface.node}")
    for name, net in doc.networks.items():
        if net.kind == "segment":
            uf.find(f"net:{name}")

    declared: list[tuple[str, str, str | None]] = []  # (item, path, subnet)
    for name, net in doc.networks.items():
        if net.kind == "segment":
            declared.append((f"net:{name}", join_path("networks", name, "subnet"), net.subnet))
    for index, link in enumerate(doc.links):
        declared.append((f"link:{index}", join_path("links", index, "subnet"), link.subnet))

    for item, path, subnet in declared:
        root = uf.find(item)
        domain = res.domains.setdefault(root, Domain(name=_domain_label(item)))
        parsed = parse_subnet(subnet)
        if subnet and parsed is None:
            continue  # reported by the check stage
        if parsed is not None:
            if domain.subnet is None:
                domain.subnet, domain.subnet_path = parsed, path
            elif parsed != domain.subnet:
                res.problems.append(
                    Problem(
                        path,
                        f"{subnet} shares an L2 segment with {domain.subnet} ({domain.subnet_path}); "
                        f"automatic addresses come from {domain.subnet}",
                        "warning",
                    )
                )
    for key, iface in res.interfaces.items():
        root = uf.find(f"if:{key}")
        domain = res.domains.setdefault(root, Domain(name=_domain_label(root)))
        domain.members.append(key)
        iface.domain = root


def _domain_label(item: str) -> str:
    kind, _, name = item.partition(":")
    return {"net": f"network {name}", "link": f"links[{name}]", "switch": f"switch {name}"}.get(kind, name)


def _place_containers(res: Resolved) -> None:
    doc = res.doc
    for name, net in doc.networks.items():
        if net.kind == "bridge" and net.host:
            if net.host in res.bridges:
                res.problems.append(
                    error(
                        join_path("networks", name, "host"),
                        f"host {net.host} already has bridge network '{res.bridges[net.host]}'",
                    )
                )
            else:
                res.bridges[net.host] = name
    for name, node in doc.nodes.items():
        if not kind_of(node).placed_on_host:
            continue
        base, network = split_mode(node.mode)
        if base == "bridge" and node.host:
            res.container_networks[name] = res.bridges.get(node.host, default_bridge_name(node.host))
        elif base == "overlay" and network:
            res.container_networks[name] = network
