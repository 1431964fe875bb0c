"""The lab's names as its embedded DNS answers them (served on each lab host by
`worker/live/resolver.py`), like Docker's on user-defined networks:

- every host and router by its name, at its addresses, and every service at its virtual IP,
  from anywhere in the lab; a host-mode container at its host's addresses (it is the host's stack);
- a bridge-mode container at its own address, from the containers on the same host's bridge;
- an overlay container at its overlay address, from the containers on the same overlay.

A CNI container resolves the lab's names but has none of its own: its plugin hands out its address.
"""

from __future__ import annotations

from .spec import FABRIC, InterfaceSpec, LabHostSpec, NamesSpec

LAB = "lab"


def names_of(spec: LabHostSpec) -> NamesSpec:
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
    lowered = {scope: {n.lower(): a for n, a in entries.items()} for scope, entries in records.items()}
    return NamesSpec(records=lowered, views=views)


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
