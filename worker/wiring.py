"""Wiring one namespace to its plan: bridges, tunnels, veth ends, addresses and routes.

Only interfaces carrying the lab's alias are ever changed or removed.
"""

from __future__ import annotations

from pyroute2 import IPRoute

from . import netlink
from .plan import NamespacePlan


def configure(ipr: IPRoute, plan: NamespacePlan, alias: str, current: dict | None = None) -> list[str]:
    """Make one namespace match its plan; returns what changed.

    The namespace is read once (links, then addresses) and compared in memory; it is read
    again only when devices were made or removed. `current` may hand in a fresh link dump.
    """
    current = current if current is not None else netlink.links(ipr)
    changes = _create_devices(ipr, plan, current)
    changes += _remove_unwanted(ipr, plan, alias, current)
    if changes:
        current = netlink.links(ipr)
    have = netlink.addresses(ipr)
    for bridge in plan.bridges.values():
        link = current[bridge.name]
        changes += _named(bridge.name, netlink.shape(ipr, link, alias, bridge.mtu, 0))
        changes += _named(
            bridge.name, netlink.sync_addresses(ipr, link, bridge.addresses, have.get(link.index, set()))
        )
    for port in plan.ports.values():
        link = current.get(port.name)
        if link is None:
            continue  # its wire could not be made; reported there
        master = current[port.bridge].index if port.bridge else 0
        port_alias = f"{alias} {port.note}" if port.note else alias
        changes += _named(port.name, netlink.shape(ipr, link, port_alias, port.mtu, master))
        changes += _named(
            port.name, netlink.sync_addresses(ipr, link, port.addresses, have.get(link.index, set()))
        )
    for vxlan in plan.vxlans:
        link = current[vxlan.name]
        changes += _named(vxlan.name, netlink.shape(ipr, link, alias, None, current[vxlan.bridge].index))
        changes += _named(vxlan.name, netlink.sync_flood_list(ipr, link, vxlan.peers))
    changes += netlink.sync_routes(ipr, plan.routes)
    lo = current.get("lo")
    if lo is not None and not lo.up:
        ipr.link("set", index=lo.index, state="up")
        changes.append("lo up")
    return changes


def _named(name: str, changes: list[str]) -> list[str]:
    return [f"{name} {c}" for c in changes]


def _create_devices(ipr: IPRoute, plan: NamespacePlan, existing: dict) -> list[str]:
    changes = []
    for bridge in plan.bridges.values():
        if bridge.name not in existing:
            netlink.create_bridge(ipr, bridge.name, bridge.mtu)
            changes.append(f"bridge {bridge.name} created")
    for vxlan in plan.vxlans:
        link = existing.get(vxlan.name)
        if link is not None and link.kind != "vxlan":
            netlink.delete_link(ipr, link.index)
            link = None
        if link is None:
            netlink.create_vxlan(ipr, vxlan.name, vxlan.vni, vxlan.local, vxlan.port)
            changes.append(f"VXLAN {vxlan.name} (VNI {vxlan.vni}) created")
    return changes


def _remove_unwanted(ipr: IPRoute, plan: NamespacePlan, alias: str, existing: dict) -> list[str]:
    wanted = plan.owned_names()
    changes = []
    for link in existing.values():
        if link.alias.split(" ")[0] == alias and link.name not in wanted:
            netlink.delete_link(ipr, link.index)
            changes.append(f"{link.name} removed")
    return changes
