"""Services: a virtual IP and port DNATed by every host and router of the lab to one of its
running backends, round robin (nftables `numgen inc`), as kube-proxy does on every node. A
service with no backend running refuses at once (a TCP reset or ICMP port unreachable) rather
than leaving clients waiting.

The rules are a table of their own (`wirelab_svc`) in each emulated host and router, written as
one JSON batch with a marker of what it holds, so only a change rewrites it. A backend that stops
is dropped when its state changes: at the end of each converge, after a node action, and on the
container engine's events (the monitor calls `refresh`). Each lab host keeps what the lab's
services are in `<lock dir>/services/<lab>.json` for that.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from topology.spec import BackendSpec, LabHostSpec, ServiceSpec, digest, from_data

from . import kept
from .config import EngineConfig
from .errors import EngineError
from .nat import COUNT, address_is, chain, current_marker, dport, drop_table, fresh_table, nft, rule
from .runtime import NODE_ROLES, Role, Runtime

TABLE = "wirelab_svc"
KEPT = "services"
UNHEALTHY = "unhealthy"


def live(services: list[ServiceSpec], running: set[str], here: set[str]) -> list[ServiceSpec]:
    """The services with only the backends that run (a node another lab host holds is taken as
    running: its own lab host drops it there)."""
    return [
        replace(s, backends=[b for b in s.backends if b.node in running or b.node not in here])
        for s in services
    ]


def seen_from(services: list[ServiceSpec], host: str) -> list[ServiceSpec]:
    """The services as one host DNATs them: its own bridge-mode backends at their own address."""

    def where(backend: BackendSpec) -> BackendSpec:
        if backend.host != host or not backend.inner:
            return replace(backend, inner="")  # reached at its host's address (and published port)
        address, port = backend.inner.rsplit(":", 1)
        return replace(backend, address=address, port=int(port))

    return [replace(s, backends=[where(b) for b in s.backends]) for s in services]


def _marker(lab: str, services: list[ServiceSpec]) -> str:
    return f"wl:{lab}:" + digest([asdict(s) for s in services])


def _daddr(address: str) -> dict[str, Any]:
    return address_is("daddr", address)


def _saddr(address: str) -> dict[str, Any]:
    return address_is("saddr", address)


def _balance(service: ServiceSpec) -> dict[str, Any]:
    table = [[i, {"concat": [b.address, b.port]}] for i, b in enumerate(service.backends)]
    pick = {"numgen": {"mode": "inc", "mod": len(service.backends), "offset": 0}}
    return {"dnat": {"family": "ip", "addr": {"map": {"key": pick, "data": {"set": table}}}}}


def batch(lab: str, services: list[ServiceSpec]) -> dict[str, Any]:
    commands = fresh_table(TABLE)
    commands += [
        chain("prerouting", "prerouting", -100, table=TABLE),
        chain("output", "output", -100, table=TABLE),
        chain("postrouting", "postrouting", 100, table=TABLE),
        chain("refuse-forward", "forward", 0, table=TABLE, kind="filter"),
        chain("refuse-output", "output", 0, table=TABLE, kind="filter"),
        chain("spec", table=TABLE),
        rule("spec", [{"accept": None}], _marker(lab, services), table=TABLE),
    ]
    for service in services:
        match = [_daddr(service.address), dport(service.protocol, service.port), COUNT]
        tag = f"wl:{lab} service {service.name}"
        if service.backends:
            for hook in ("prerouting", "output"):
                commands.append(rule(hook, [*match, _balance(service)], tag, table=TABLE))
            for backend in service.backends:
                if backend.inner:  # a container reaching itself through the VIP: seen as from its host
                    hairpin = [
                        _saddr(backend.address),
                        _daddr(backend.address),
                        dport(service.protocol, backend.port),
                    ]
                    commands.append(rule("postrouting", [*hairpin, {"masquerade": None}], tag, table=TABLE))
        else:
            refuse = {"reject": {"type": "tcp reset"}} if service.protocol == "tcp" else {"reject": None}
            for hook in ("refuse-forward", "refuse-output"):
                commands.append(rule(hook, [*match, refuse], tag, table=TABLE))
    return {"nftables": commands}


def sync(lab: str, pid: int, services: list[ServiceSpec]) -> list[str]:
    """Make one host's service table hold `services` (none: no table); returns what changed."""
    marker = current_marker(pid, TABLE)
    if not services:
        if marker is None:
            return []
        drop_table(pid, TABLE)
        return ["services removed"]
    if marker == _marker(lab, services):
        return []
    nft(pid, batch(lab, services), "-f", "-")
    shown = ", ".join(f"{s.name} {s.address}:{s.port} -> {len(s.backends)} backend(s)" for s in services)
    return [f"services: {shown}"]


# What the lab host keeps of a lab's services, for refreshing them between converges ---------


def keep(config: EngineConfig, spec: LabHostSpec) -> bool:
    """Keep (or forget) what the lab's services are on this lab host; whether it has any, or had."""
    data = {"services": [asdict(s) for s in spec.services], "here": spec.node_names()}
    if not spec.apps:
        kept.keep(config, UNHEALTHY, spec.lab, None)  # gone with the lab's last app
    return kept.keep(config, KEPT, spec.lab, data if spec.services else None)


def unhealthy(config: EngineConfig, lab: str) -> set[str]:
    """The lab's app instances failing their health checks (kept by the orchestrator's upkeep):
    they run, but no service sends them anything."""
    held = kept.read(config, UNHEALTHY, lab)
    return set(held["nodes"]) if held else set()


def set_unhealthy(config: EngineConfig, runtime: Runtime, lab: str, nodes: set[str]) -> list[str]:
    """Keep which instances are unhealthy, and have the lab's services follow."""
    kept.keep(config, UNHEALTHY, lab, {"nodes": sorted(nodes)} if nodes else None)
    return refresh(config, runtime, lab)


def refresh(config: EngineConfig, runtime: Runtime, lab: str) -> list[str]:
    """Rewrite the lab's service tables on this lab host for the backends that run now (a no-op for
    a lab without services)."""
    held = kept.read(config, KEPT, lab)
    if held is None:
        return []
    services = [from_data(ServiceSpec, s) for s in held["services"]]
    infos = runtime.list_containers(lab)
    running = {i.node for i in infos if i.status == "running" and i.role in NODE_ROLES}  # not an app's holder
    running -= unhealthy(config, lab)
    hosts = {i.node: i.pid for i in infos if i.role == Role.SANDBOX and i.status == "running" and i.pid}
    return apply(lab, live(services, running, set(held["here"])), hosts)[0]


def apply(lab: str, wanted: list[ServiceSpec], hosts: dict[str, int]) -> tuple[list[str], dict[str, str]]:
    """Each running host's or router's table (`hosts`: name -> a pid in its namespace) made to
    hold `wanted` as it sees them: (what changed, the hosts where that failed and why). One
    stopped meanwhile is brought up to date by its next start."""
    changes, failed = [], {}
    for host, pid in hosts.items():
        try:
            changes += [f"{host}: {c}" for c in sync(lab, pid, seen_from(wanted, host))]
        except EngineError as exc:
            failed[host] = str(exc)
    return changes, failed
