"""Wiring one namespace to its plan: bridges, tunnels, veth ends, addresses and routes.

Only interfaces carrying the lab's alias are ever changed or removed.
"""

from __future__ import annotations

from typing import Any

from topology.compiler import DOCKER0
from topology.spec import StitchSpec

from . import netlink
from .netlink import Namespace
from .plan import NamespacePlan


def configure(
    where: Namespace, plan: NamespacePlan, alias: str, current: dict[str, Any] | None = None
) -> list[str]:
    """Make one namespace match its plan; returns what changed.

    The namespace is read once (links, addresses, routes) and compared in memory; it is read
    again only when devices were made or removed, and changed only where it differs.
    `current` may hand in a fresh link dump.
    """
    current = current if current is not None else where.links()
    changes = _create_devices(where, plan, current)
    changes += _remove_unwanted(where, plan, alias, current)
    if changes:
        current = where.links()
    have = where.addresses()
    for bridge in plan.bridges.values():
        link = current[bridge.name]
        changes += _named(bridge.name, netlink.shape(where, link, alias, bridge.mtu, 0))
        changes += _named(
            bridge.name, netlink.sync_addresses(where, link, bridge.addresses, have.get(link.index, set()))
        )
    for port in plan.ports.values():
        link = current.get(port.name)
        if link is None:
            continue  # its wire could not be made; reported there
        master = current[port.bridge].index if port.bridge else 0
        port_alias = f"{alias} {port.note}" if port.note else alias
        attaching = bool(master) and link.master != master
        changes += _named(port.name, netlink.shape(where, link, port_alias, port.mtu, master))
        if attaching and port.bridge == DOCKER0:
            netlink.hairpin(where, link)  # a container reaching itself through its host's DNAT
        changes += _named(
            port.name, netlink.sync_addresses(where, link, port.addresses, have.get(link.index, set()))
        )
    for vxlan in plan.tunnels:
        link = current[vxlan.name]
        mtu = getattr(vxlan, "mtu", None)
        changes += _named(vxlan.name, netlink.shape(where, link, alias, mtu, current[vxlan.bridge].index))
        changes += _named(vxlan.name, netlink.sync_flood_list(where, link, vxlan.peers))
    changes += netlink.sync_routes(where, plan.routes)
    lo = current.get("lo")
    if lo is not None and not lo.up:
        where.ipr.link("set", index=lo.index, state="up")
        changes.append("lo up")
    return changes


def _named(name: str, changes: list[str]) -> list[str]:
    return [f"{name} {c}" for c in changes]


def _create_devices(where: Namespace, plan: NamespacePlan, existing: dict[str, Any]) -> list[str]:
    changes = []
    for bridge in plan.bridges.values():
        if bridge.name not in existing:
            netlink.create_bridge(where.ipr, bridge.name, bridge.mtu)
            changes.append(f"bridge {bridge.name} created")
    for vxlan in plan.tunnels:
        link = existing.get(vxlan.name)
        if link is not None and link.kind != "vxlan":
            netlink.delete_link(where.ipr, link.index)
            link = None
        if link is None and isinstance(vxlan, StitchSpec):
            netlink.create_stitch(where, vxlan)
            changes.append(f"stitch {vxlan.name} (VNI {vxlan.vni}) to {', '.join(vxlan.peers)} created")
        elif link is None:
            netlink.create_vxlan(where.ipr, vxlan.name, vxlan.vni, vxlan.local, vxlan.port)
            changes.append(f"VXLAN {vxlan.name} (VNI {vxlan.vni}) created")
    return changes


def _remove_unwanted(
    where: Namespace, plan: NamespacePlan, alias: str, existing: dict[str, Any]
) -> list[str]:
    wanted = plan.owned_names()
    changes = []
    for link in existing.values():
        if link.alias.split(" ")[0] == alias and link.name not in wanted:
            netlink.delete_link(where.ipr, link.index)
            changes.append(f"{link.name} removed")
    return changes
