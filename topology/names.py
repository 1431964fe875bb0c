"""The lab's names as its embedded DNS answers them (served on each lab host by
`worker/live/resolver.py`), like Docker's on user-defined networks:

- every host and router by its name, at its addresses, and every service at its virtual IP,
  from anywhere in the lab; a host-mode container at its host's addresses (it is the host's stack);
- a bridge-mode container at its own address, from the containers on the same host's bridge;
- an overlay container at its overlay address, from the containers on the same overlay.

A CNI container resolves the lab's names but has none of its own: its plugin hands out its address.

With an orchestrator, as Mesos-DNS names Marathon's tasks: `marathon` is its API (on 127.0.0.11 in
every namespace); each app is `APP` and `APP.marathon.mesos`, at the addresses its instances are
reached at (their agent's in host and bridge mode, their own on an overlay), each instance
`APP.N.marathon.mesos`, and `_APP._tcp.marathon.mesos` (or `_udp`) gives SRV records of every
instance's host ports.
"""

from __future__ import annotations

from .spec import FABRIC, AppSpec, InterfaceSpec, LabHostSpec, NamesSpec

LAB = "lab"
MESOS = "marathon.mesos"
L4LB = "marathon.l4lb.thisdcos.directory"  # a VIP's name, as DC/OS gave it
API_NAME = "marathon"
API_ADDRESS = "127.0.0.11"  # the resolver's own: each namespace's API socket is there too


def names_of(spec: LabHostSpec, apps: dict[str, list[str]] | None = None) -> NamesSpec:
    """The lab's names; `apps`: the orchestrator's apps and their instances (None: it has none)."""
    lab: dict[str, list[str]] = {}
    records: dict[str, dict[str, list[str]]] = {LAB: lab}
    views: dict[str, list[str]] = {}
    for sandbox in spec.sandboxes:
        if found := _addresses(sandbox.interfaces):
            lab[sandbox.name] = found
        views[sandbox.name] = [LAB]
    bridge_of = {w.a.node: w.b.bridge for w in spec.wires if w.b.node != FABRIC and w.b.bridge}
    for app in spec.apps:
        if app.mode == "host" and app.host in lab:
            lab[app.name] = lab[app.host]
        elif app.mode in ("bridge", "overlay") and app.name in bridge_of:
            scope = f"bridge:{app.host}" if app.mode == "bridge" else f"overlay:{bridge_of[app.name]}"
            if found := _addresses(app.interfaces):
                records.setdefault(scope, {})[app.name] = found
            views[app.name] = [scope, LAB]
        elif app.mode == "cni":
            views[app.name] = [LAB]
    for service in spec.services:
        lab.setdefault(service.name, [service.address])
    srv: dict[str, list[list[object]]] = {}
    if apps is not None:
        lab.setdefault(API_NAME, [API_ADDRESS])
        _orchestrated(spec, apps, lab, srv)
    lowered = {scope: {n.lower(): a for n, a in entries.items()} for scope, entries in records.items()}
    return NamesSpec(records=lowered, views=views, srv={n.lower(): r for n, r in srv.items()})


def _orchestrated(
    spec: LabHostSpec,
    apps: dict[str, list[str]],
    lab: dict[str, list[str]],
    srv: dict[str, list[list[object]]],
) -> None:
    by_name = {a.name: a for a in spec.apps}
    for app, instances in apps.items():
        everywhere: list[str] = []
        for instance in instances:
            found = by_name.get(instance)
            if found is None:
                continue
            at = lab.get(found.host, []) if found.mode in ("host", "bridge") else _addresses(found.interfaces)
            lab[f"{instance}.{MESOS}"] = at
            everywhere += [a for a in at if a not in everywhere]
            for protocol, port in _host_ports(spec, found):
                srv.setdefault(f"_{app}._{protocol}.{MESOS}", []).append([f"{instance}.{MESOS}", port])
        lab.setdefault(app, everywhere)
        lab[f"{app}.{MESOS}"] = everywhere
        vip = next((s for s in spec.services if s.name == app), None)
        if vip is not None:
            lab[f"{app}.{L4LB}"] = [vip.address]


def _host_ports(spec: LabHostSpec, app: AppSpec) -> list[tuple[str, int]]:
    """The ports an instance is reached at on its agent: its own in host mode, those its agent
    publishes for it in bridge mode."""
    if app.mode == "host":
        return [(p.protocol, p.port) for p in app.ports]
    host = next((s for s in spec.sandboxes if s.name == app.host), None)
    return [(p.protocol, p.host_port) for p in host.publish if p.container == app.name] if host else []


def _addresses(interfaces: list[InterfaceSpec]) -> list[str]:
    return [a.split("/")[0] for i in interfaces for a in i.addresses if ":" not in a]


def lookup(names: NamesSpec, owner: str, name: str) -> list[str] | None:
    """The addresses `name` has as `owner`'s namespace sees it; None when it has none there."""
    key = name.rstrip(".").lower()
    for scope in names.views.get(owner, []):
        if key in names.records.get(scope, {}):
            return names.records[scope][key]
    return None


def reverse(names: NamesSpec, owner: str, address: str) -> str | None:
    """The name `owner` knows `address` by, the narrowest scope first."""
    for scope in names.views.get(owner, []):
        for name, addresses in names.records.get(scope, {}).items():
            if address in addresses:
                return name
    return None
