"""Validation in stages (parse, resolve, check), reporting every problem at once.

One `validate()` serves the API, the CLI, the editor and the engine: errors stop a
deploy, warnings do not.
"""

from __future__ import annotations

import ipaddress
import re
from collections import defaultdict
from typing import Any

from .addressing import (
    Assignments,
    IPAddress,
    assign,
    containers_on,
    host_mode_port,
    parse_range,
    static_ip,
)
from .cni import check_config, maps_ports
from .document import DEFAULT_PORT_RANGE, DEFAULT_PUBLISH_RANGE, LabDoc, NetworkDoc, NodeDoc, read_document
from .exercise import TARGET
from .images import ImagePolicy
from .kinds import CONTAINER_MODES, get_kind, kind_names, kind_of, split_mode
from .orchestrator import retarget, schedule, with_instances
from .problems import Problem, TopologyError, error, join_path, warning
from .resolve import Resolved, parse_subnet, resolve
from .services import check_services

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
IFNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$")
MAX_NODES = 500
MAX_INTERFACES_PER_NODE = 64
MAX_INTERFACES = 2000
MAX_LINKS = 2000
MAX_FILES_PER_NODE = 32
MAX_FILE_BYTES = 64 * 1024
MAX_FILES_BYTES = 256 * 1024  # all of one node's files
KERNEL_PATHS = ("/proc", "/sys", "/dev")


def validate_text(text: str | bytes, max_bytes: int = 1_000_000) -> tuple[LabDoc | None, list[Problem]]:
    """Parse and validate a document; the doc is None when it could not be parsed."""
    try:
        doc = read_document(text, max_bytes)
    except TopologyError as exc:
        return None, exc.problems
    return doc, validate(doc)


def validate(
    doc: LabDoc, previous: Assignments | None = None, images: ImagePolicy | None = None
) -> list[Problem]:
    return check(doc, previous, images)[1]


def check(
    doc: LabDoc, previous: Assignments | None = None, images: ImagePolicy | None = None
) -> tuple[Assignments, list[Problem]]:
    """Resolve and check a parsed document; also returns the addresses it would get.

    `images`: the installation's image policy (None: any image). The orchestrator's apps are
    placed first (`topology.orchestrator`), and their instances checked as the lab's containers."""
    placement: dict[str, str] = {}
    placing: list[Problem] = []
    original = doc
    if doc.apps or doc.orchestrator is not None:
        placement, placing = schedule(doc, previous.instances if previous else None)
        doc = with_instances(doc, placement)
    assignments, problems = _check(doc, previous, images)
    assignments.instances = placement
    return assignments, _dedupe(placing + retarget(problems, placement, original))


def _check(
    doc: LabDoc, previous: Assignments | None = None, images: ImagePolicy | None = None
) -> tuple[Assignments, list[Problem]]:
    problems: list[Problem] = []
    problems += _check_names(doc)
    problems += _check_kinds(doc)
    if len(doc.links) > MAX_LINKS:
        problems.append(error("links", f"a lab has at most {MAX_LINKS} links; this one has {len(doc.links)}"))
    res = resolve(doc)
    problems += res.problems
    problems += _check_interface_counts(res)
    problems += _check_networks(doc, res)
    problems += _check_interfaces(doc, res)
    problems += _check_containers(doc)
    problems += _check_files(doc)
    problems += _check_images(doc, images)
    problems += _check_ports(doc)
    assignments, pool_problems = assign(res, previous)
    problems += pool_problems
    problems += _check_host_networks(doc, res, assignments)
    problems += check_services(doc, lambda host: first_address(res, assignments, host), assignments.ports)
    problems += _check_exercise(doc)
    return assignments, _dedupe(problems)


def _check_interface_counts(res: Resolved) -> list[Problem]:
    out = []
    if len(res.interfaces) > MAX_INTERFACES:
        out.append(
            error(
                "nodes", f"a lab has at most {MAX_INTERFACES} interfaces; this one has {len(res.interfaces)}"
            )
        )
    per_node: dict[str, int] = defaultdict(int)
    for iface in res.interfaces.values():
        per_node[iface.node] += 1
    for node, count in per_node.items():
        if count > MAX_INTERFACES_PER_NODE:
            out.append(
                error(
                    join_path("nodes", node, "interfaces"),
                    f"a node has at most {MAX_INTERFACES_PER_NODE} interfaces; {node} has {count}",
                )
            )
    return out


def _dedupe(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def _check_names(doc: LabDoc) -> list[Problem]:
    out = []
    if not doc.name.strip():
        out.append(error("name", "the lab needs a name"))
    elif len(doc.name) > 100:
        out.append(error("name", "a lab name has at most 100 characters"))
    if len(doc.nodes) > MAX_NODES:
        out.append(error("nodes", f"a lab has at most {MAX_NODES} nodes; this one has {len(doc.nodes)}"))
    for section, names in (("nodes", doc.nodes), ("networks", doc.networks)):
        for name in names:
            if not NAME.match(name):
                out.append(
                    error(
                        join_path(section, name),
                        f"'{name}' is not a valid name: use letters, digits, '-', '_' or '.', "
                        "at most 63 characters, starting with a letter or digit",
                    )
                )
    for name in set(doc.nodes) & set(doc.networks):
        out.append(error(join_path("networks", name), f"a node is also named '{name}'"))
    for node_name, node in doc.nodes.items():
        for if_name in node.interfaces:
            if not IFNAME.match(if_name) or if_name == "lo":
                out.append(
                    error(
                        join_path("nodes", node_name, "interfaces", if_name),
                        f"'{if_name}' is not a valid interface name: at most 15 characters, "
                        "letters, digits, '-', '_' or '.', and not 'lo'",
                    )
                )
    for index, link in enumerate(doc.links):
        for end, endpoint in enumerate(link.endpoints):
            if_name = endpoint.partition(":")[2]
            if if_name and (not IFNAME.match(if_name) or if_name == "lo"):
                out.append(
                    error(
                        join_path("links", index, "endpoints", end),
                        f"'{if_name}' is not a valid interface name: at most 15 characters",
                    )
                )
    return out


def _check_images(doc: LabDoc, images: ImagePolicy | None) -> list[Problem]:
    if images is None:
        return []
    return [
        error(join_path("nodes", name, "image"), images.refusal(node.image))
        for name, node in doc.nodes.items()
        if node.image and not images.allows(node.image)
    ]


def _check_files(doc: LabDoc) -> list[Problem]:
    """Node files: a few, small, at plain absolute paths outside the kernel's file systems."""
    out = []
    for name, node in doc.nodes.items():
        path = join_path("nodes", name, "files")
        if len(node.files) > MAX_FILES_PER_NODE:
            count = len(node.files)
            out.append(error(path, f"a node has at most {MAX_FILES_PER_NODE} files; {name} has {count}"))
        total = 0
        for file, content in node.files.items():
            where, size = join_path(path, file), len(content.encode())
            total += size
            parts = file.split("/")
            if not file.startswith("/") or file.endswith("/") or len(file) > 255:
                out.append(error(where, "a file needs an absolute path to a file, e.g. /etc/frr/frr.conf"))
            elif any(part in ("", ".", "..") for part in parts[1:]) or "\0" in file:
                out.append(error(where, "a file's path may not have empty, '.' or '..' parts"))
            elif any(file == p or file.startswith(p + "/") for p in KERNEL_PATHS):
                out.append(error(where, f"files cannot go under {', '.join(KERNEL_PATHS)}"))
            if size > MAX_FILE_BYTES:
                limit = MAX_FILE_BYTES // 1024
                out.append(error(where, f"a file holds at most {limit} KiB; this one has {size} bytes"))
        if total > MAX_FILES_BYTES:
            out.append(error(path, f"a node's files hold at most {MAX_FILES_BYTES // 1024} KiB together"))
    return out


def _check_kinds(doc: LabDoc) -> list[Problem]:
    out = []
    for name, node in doc.nodes.items():
        path = join_path("nodes", name)
        kind = get_kind(node.kind)
        if kind is None:
            out.append(
                error(path + ".kind", f"unknown kind '{node.kind}'; known kinds: {', '.join(kind_names())}")
            )
            continue
        for field_name in node.model_fields_set:
            value = getattr(node, field_name)
            if value in (None, [], {}) or kind.allows(field_name):
                continue
            out.append(error(join_path(path, field_name), f"a {node.kind} has no '{field_name}'"))
        if kind.needs_image and not node.image:
            out.append(error(path + ".image", f"a {node.kind} needs an image"))
    return out


def _check_networks(doc: LabDoc, res: Resolved) -> list[Problem]:
    out = []
    for name, net in doc.networks.items():
        path = join_path("networks", name)
        if net.subnet is not None and parse_subnet(net.subnet) is None:
            out.append(error(path + ".subnet", f"'{net.subnet}' is not a subnet like 198.18.0.0/24"))
        if net.kind == "overlay" and not net.subnet:
            out.append(error(path + ".subnet", "an overlay network needs a subnet"))
        if net.kind in ("bridge", "overlay"):
            out += _check_pool_subnet(path, net)
        if net.kind in ("bridge", "cni"):
            host = doc.nodes.get(net.host or "")
            if not net.host:
                out.append(error(path + ".host", f"a {net.kind} network lives on a host: name it"))
            elif host is None:
                out.append(error(path + ".host", f"no node named '{net.host}'"))
            elif not kind_of(host).holds_containers:
                out.append(error(path + ".host", f"'{net.host}' is a {host.kind}, not a host"))
        elif net.host:
            out.append(
                error(path + ".host", f"only bridge and cni networks sit on a host; this is a {net.kind}")
            )
        if net.kind == "cni":
            out += check_config(path + ".config", net.config)
            if net.subnet:
                out.append(error(path + ".subnet", "a cni network's addresses come from its plugins' ipam"))
        elif net.config is not None:
            out.append(
                error(
                    path + ".config", f"only cni networks have a plugin configuration; this is a {net.kind}"
                )
            )
    for index, link in enumerate(doc.links):
        if link.subnet is not None and parse_subnet(link.subnet) is None:
            out.append(
                error(
                    join_path("links", index, "subnet"), f"'{link.subnet}' is not a subnet like 198.18.0.0/30"
                )
            )
    return out


def _check_pool_subnet(path: str, net: NetworkDoc) -> list[Problem]:
    """A bridge's or overlay's subnet gives a gateway or VTEP room and addresses to containers."""
    subnet = parse_subnet(net.subnet)
    if net.kind == "bridge" and not net.subnet:
        return [error(path + ".subnet", "a bridge network needs a subnet, e.g. 198.19.1.0/24")]
    if subnet is not None and subnet.num_addresses < 4:
        return [error(path + ".subnet", f"{net.subnet} is too small: use at least a /30")]
    return []


def _check_interfaces(doc: LabDoc, res: Resolved) -> list[Problem]:
    out = []
    seen: dict[tuple[str | None, str], str] = {}
    reach: dict[str, list[Any]] = {}  # node -> the subnets its interfaces are on, where known
    for iface in res.interfaces.values():
        node = doc.nodes[iface.node]
        kind = get_kind(node.kind)
        domain = res.domains.get(iface.domain) if iface.domain else None
        subnet = domain.subnet if domain else None
        address = static_ip(iface.address)
        on = subnet or (address.network if address else None)
        reach.setdefault(iface.node, []).append(on)
        path = iface.path + (".address" if iface.address is not None else "")
        if kind is not None and not kind.has_interfaces:
            out.append(error(iface.path, f"a {node.kind} has no interfaces of its own"))
            continue
        if iface.address in (None, ""):
            continue
        if kind_of(node).bridges_ports:
            out.append(error(path, f"{node.kind} ports carry no addresses"))
            continue
        if iface.address == "auto":
            if subnet is None:
                out.append(
                    error(path, f"'auto' needs a subnet on {domain.name if domain else 'its segment'}")
                )
            continue
        ip = static_ip(iface.address, subnet)
        if ip is None:
            out.append(error(path, f"'{iface.address}' is not an address like 198.18.0.10/24"))
            continue
        if domain is not None and subnet is not None and ip.ip not in subnet:
            out.append(warning(path, f"{ip} is outside {subnet}, the subnet of {domain.name}"))
        other = seen.get((iface.domain, str(ip.ip)))
        if other:
            out.append(error(path, f"{ip.ip} is already the address of {other}"))
        seen[(iface.domain, str(ip.ip))] = iface.key
    for node_name, node in doc.nodes.items():
        for index, route in enumerate(node.routes):
            path = join_path("nodes", node_name, "routes", index)
            if route.to != "default" and parse_subnet(route.to) is None:
                out.append(error(path + ".to", f"'{route.to}' is not a subnet or 'default'"))
            try:
                via = ipaddress.ip_address(route.via)
            except ValueError:
                out.append(error(path + ".via", f"'{route.via}' is not an address"))
                continue
            if (problem := _unreachable(node_name, via, reach.get(node_name, []))) is not None:
                out.append(warning(path + ".via", problem))
    return out


def _unreachable(node: str, via: IPAddress, subnets: list[Any]) -> str | None:
    """Why `node` cannot use a route through `via`: none of its interfaces is on via's subnet
    (a node pasted or recabled keeps routes its new place cannot use). None when it can, or
    when an interface's subnet is not known before deploying."""
    if not subnets:
        return f"{node} has no interface to reach {via} through: the route cannot be used"
    if None in subnets or any(via in subnet for subnet in subnets):
        return None
    on = ", ".join(sorted({str(s) for s in subnets}))
    return f"{via} is on none of {node}'s subnets ({on}): the route cannot be used"


def _host_addresses(res: Resolved, assignments: Assignments, host: str) -> list[Any]:
    out = []
    for key, iface in res.interfaces.items():
        if iface.node != host:
            continue
        ip = static_ip(iface.address) or static_ip(assignments.interfaces.get(key))
        if ip is not None:
            out.append(ip)
    return out


def first_address(res: Resolved, assignments: Assignments, host: str) -> str | None:
    """A host's (or router's) first address, where services reach it."""
    found = _host_addresses(res, assignments, host)
    return str(found[0]) if found else None


def _check_host_networks(doc: LabDoc, res: Resolved, assignments: Assignments) -> list[Problem]:
    """An overlay needs an address on each of its hosts; a bridge must not shadow a LAN."""
    out = []
    for name, node in doc.nodes.items():
        base, network = split_mode(node.mode)
        if not kind_of(node).placed_on_host or node.host not in doc.nodes:
            continue
        addresses = _host_addresses(res, assignments, node.host)
        if base == "overlay" and not addresses:
            out.append(
                error(
                    join_path("nodes", name, "mode"),
                    f"host {node.host} has no address to carry overlay '{network}' to the other hosts",
                )
            )
        if base == "bridge":
            bridge = res.subnet_of_network(res.container_networks.get(name, ""))
            for ip in addresses:
                if bridge is not None and ip.network.overlaps(bridge):
                    out.append(
                        error(
                            join_path("nodes", node.host),
                            f"the bridge subnet {bridge} of host {node.host} overlaps its address {ip}; "
                            "declare a bridge network with another subnet",
                        )
                    )
    return out


def _check_containers(doc: LabDoc) -> list[Problem]:
    out = []
    for name, node in doc.nodes.items():
        if not kind_of(node).placed_on_host:
            continue
        path = join_path("nodes", name)
        host = doc.nodes.get(node.host or "")
        if not node.host:
            out.append(error(path + ".host", "a container runs on a host: name it"))
        elif host is None:
            out.append(error(path + ".host", f"no node named '{node.host}'"))
        elif not kind_of(host).holds_containers:
            out.append(error(path + ".host", f"'{node.host}' is a {host.kind}; containers run on hosts"))
        base, network = split_mode(node.mode)
        if base in ("overlay", "cni"):
            net = doc.networks.get(network or "")
            if net is None:
                out.append(error(path + ".mode", f"no {base} network named '{network}'"))
            elif net.kind != base:
                wanted = "an overlay" if base == "overlay" else "a cni network"
                out.append(error(path + ".mode", f"'{network}' is a {net.kind} network, not {wanted}"))
            elif base == "cni" and node.host and net.host != node.host:
                out.append(
                    error(path + ".mode", f"cni network '{network}' is on host {net.host}, not {node.host}")
                )
            elif base == "cni" and node.ports and not maps_ports(net.config):
                out.append(
                    error(
                        path + ".ports",
                        f"cni network '{network}' maps no ports: chain a portmap plugin with "
                        "capabilities: {portMappings: true}",
                    )
                )
        elif base not in CONTAINER_MODES or network is not None:
            out.append(
                error(
                    path + ".mode",
                    f"'{node.mode}' is not a mode: "
                    "use host, bridge, overlay:<network>, cni:<network> or none",
                )
            )
        if node.address and base not in ("bridge", "overlay"):
            out.append(error(path + ".address", f"a container in {base} mode has no address of its own"))
        elif node.address and static_ip(node.address) is None:
            out.append(error(path + ".address", f"'{node.address}' is not an address"))
    return out


def _check_ports(doc: LabDoc) -> list[Problem]:
    out = []
    for host_name, host in doc.nodes.items():
        if not kind_of(host).holds_containers:
            continue
        for field_name, default in (
            ("port_range", DEFAULT_PORT_RANGE),
            ("publish_range", DEFAULT_PUBLISH_RANGE),
        ):
            text = getattr(host, field_name)
            if parse_range(text, default) is None:
                out.append(
                    error(
                        join_path("nodes", host_name, field_name), f"'{text}' is not a range like 31000-31999"
                    )
                )
        out += _check_host_ports(doc, host_name, host)
    for name, node in doc.nodes.items():
        base, _ = split_mode(node.mode)
        if kind_of(node).placed_on_host and node.ports and base in ("none", "overlay"):
            out.append(
                error(
                    join_path("nodes", name, "ports"),
                    f"a container in {base} mode publishes no ports"
                    + ("; the overlay reaches it at its own address" if base == "overlay" else ""),
                )
            )
    return out


def _check_host_ports(doc: LabDoc, host_name: str, host: NodeDoc) -> list[Problem]:
    out = []
    allowed = parse_range(host.publish_range, DEFAULT_PUBLISH_RANGE) or (1, 65535)
    published: dict[tuple[int, str], str] = {}
    bound: dict[tuple[int, str], str] = defaultdict(str)
    for name, node in containers_on(doc, host_name).items():
        base, _ = split_mode(node.mode)
        for index, port in enumerate(node.ports):
            path = join_path("nodes", name, "ports", index)
            if base in ("bridge", "cni"):
                if port.container is None:
                    out.append(
                        error(path, f"in {base} mode a port is published as HOST:CONTAINER or auto:CONTAINER")
                    )
                    continue
                _check_port_number(out, path, port.container, "container port")
                if port.host == "auto":
                    continue
                if not allowed[0] <= port.host <= allowed[1]:
                    out.append(
                        error(
                            path,
                            f"host port {port.host} is outside host {host_name}'s publish range "
                            f"{allowed[0]}-{allowed[1]}",
                        )
                    )
                key = (port.host, port.protocol)
                if key in published:
                    out.append(
                        error(
                            path,
                            f"host port {port.host} on host {host_name} "
                            f"is already published by {published[key]}",
                        )
                    )
                elif bound.get(key):
                    out.append(
                        warning(
                            path,
                            f"host port {port.host} on host {host_name} "
                            f"is also bound by {bound[key]} in host mode",
                        )
                    )
                published.setdefault(key, f"nodes.{name}")
            elif base == "host":
                if port.container is not None and port.host not in ("auto", port.container):
                    out.append(
                        error(path, "in host mode a container's port is its host's port: write one number")
                    )
                    continue
                value = host_mode_port(port)
                if value == "auto":
                    continue
                _check_port_number(out, path, value, "port")
                key = (value, port.protocol)
                if bound.get(key) or key in published:
                    owner = bound.get(key) or published[key]
                    out.append(
                        warning(
                            path,
                            f"port {value} on host {host_name} is also taken by {owner}: in host mode "
                            "the second server fails with 'address in use'",
                        )
                    )
                bound[key] = bound[key] or f"nodes.{name}"
    return out


def _check_port_number(out: list[Any], path: str, value: int, what: str) -> None:
    if not 1 <= value <= 65535:
        out.append(error(path, f"{what} {value} is not between 1 and 65535"))


def _check_exercise(doc: LabDoc) -> list[Problem]:
    """An exercise's checks name nodes of the lab that have a network stack to check."""
    exercise = doc.exercise
    if exercise is None:
        return []
    out = []
    for index, check in enumerate(exercise.checks):
        path = join_path("exercise", "checks", index, check.kind)
        for field_name, node in check.nodes():
            if node not in doc.nodes:
                out.append(error(join_path(path, field_name), f"there is no node '{node}'"))
                continue
            kind = get_kind(doc.nodes[node].kind)
            if kind is not None and not kind.has_container:
                out.append(error(join_path(path, field_name), f"a {kind.name} has no network stack to check"))
        if check.reach is not None:
            target = TARGET.match(check.reach.to)
            host = target["host"] if target else ""
            if not _is_address(host) and host not in doc.nodes:
                message = f"'{host}' is neither an address nor a node of the lab"
                out.append(error(join_path(path, "to"), message))
    for index, node in enumerate(exercise.locked):
        if node not in doc.nodes:
            out.append(error(join_path("exercise", "locked", index), f"there is no node '{node}'"))
    for index, name in enumerate(exercise.kinds or []):
        if get_kind(name) is None:
            message = f"unknown kind '{name}'; known kinds: {', '.join(kind_names())}"
            out.append(error(join_path("exercise", "kinds", index), message))
    return out


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
