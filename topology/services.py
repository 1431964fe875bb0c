"""Services: a virtual IP and port balanced over backends. Where each backend is reached from
anywhere in the lab: a host's or router's own address, a host-mode container's host, a bridge-mode
(or CNI portmap) container's host at the port it publishes."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

from .addressing import host_mode_port
from .document import LabDoc, ServiceDoc
from .kinds import kind_of, split_mode
from .problems import Problem, error, join_path

MAX_SERVICES = 64
MAX_BACKENDS = 32


@dataclass(frozen=True)
class Endpoint:
    node: str
    address: str
    port: int
    host: str = ""
    inner_port: int = 0  # a bridge-mode container's own port (its host reaches it there directly)


def endpoints(
    doc: LabDoc,
    name: str,
    service: ServiceDoc,
    address_of: Callable[[str], str | None],
    ports: dict[str, int],
) -> tuple[list[Endpoint], list[Problem]]:
    """The service's backends as address and port, and the problems of those that have none.
    `address_of(host)`: a host's first address; `ports`: automatic host ports by `node:index`."""
    out, problems = [], []
    target = service.target_port or service.port
    for index, backend in enumerate(service.backends):
        path = join_path("services", name, "backends", index)
        node = doc.nodes.get(backend)
        if node is None:
            problems.append(error(path, f"no node named '{backend}'"))
            continue
        kind = kind_of(node)
        mode = split_mode(node.mode)[0] if kind.placed_on_host else ""
        host = node.host if kind.placed_on_host else backend
        if not kind.sandboxed and mode not in ("host", "bridge", "cni"):
            what = f"a container in {mode} mode" if kind.placed_on_host else f"a {node.kind}"
            problems.append(
                error(path, f"{backend} is {what}: reach a container through its host (host or bridge mode)")
            )
            continue
        port: int | str | None = target
        inner = 0
        if mode == "host" and node.ports and service.target_port is None:
            port = host_mode_port(node.ports[0])  # where it listens: its first port (PORT0 if automatic)
            port = ports.get(f"{backend}:0") if port == "auto" else port
        elif mode in ("bridge", "cni"):
            published = [
                (i, p)
                for i, p in enumerate(node.ports)
                if p.container == target and p.protocol == service.protocol
            ]
            if not published:
                problems.append(
                    error(
                        path,
                        f"{backend} publishes no host port for {target}: add 'auto:{target}' to its ports",
                    )
                )
                continue
            i, p = published[0]
            port = p.host if p.host != "auto" else ports.get(f"{backend}:{i}")
            inner = target if mode == "bridge" else 0
        address = address_of(host or "")
        if address is None or port is None:
            problems.append(error(path, f"{backend} has no address yet: give its host an interface on a LAN"))
            continue
        out.append(Endpoint(backend, address, int(port), host or "", inner))
    return out, problems


def check_services(
    doc: LabDoc, address_of: Callable[[str], str | None], ports: dict[str, int]
) -> list[Problem]:
    problems = []
    if len(doc.services) > MAX_SERVICES:
        problems.append(error("services", f"a lab has at most {MAX_SERVICES} services"))
    taken: dict[tuple[str, int, str], str] = {}
    for name, service in doc.services.items():
        path = join_path("services", name)
        if name in doc.nodes:
            problems.append(error(path, f"'{name}' is already a node's name: DNS could not tell them apart"))
        try:
            ipaddress.IPv4Address(service.address)
        except ValueError:
            problems.append(error(path + ".address", f"'{service.address}' is not an IPv4 address"))
        for field_name in ("port", "target_port"):
            value = getattr(service, field_name)
            if value is not None and not 1 <= value <= 65535:
                problems.append(error(f"{path}.{field_name}", f"{value} is not between 1 and 65535"))
        if not service.backends or len(service.backends) > MAX_BACKENDS:
            problems.append(error(path + ".backends", f"name 1 to {MAX_BACKENDS} backends"))
        key = (service.address, service.port, service.protocol)
        if key in taken:
            problems.append(
                error(path + ".address", f"{service.address}:{service.port} is already service {taken[key]}")
            )
        taken.setdefault(key, name)
        problems += endpoints(doc, name, service, address_of, ports)[1]
    return problems
