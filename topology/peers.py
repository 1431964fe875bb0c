"""What exporting to peers' formats shares: a node's interfaces in order, and the commands that
set up in a node what Wirelab would have set (addresses, forwarding, routes)."""

from __future__ import annotations

from .document import LabDoc
from .kinds import get_kind


def interfaces_of(doc: LabDoc, name: str) -> list[str]:
    """A node's interfaces: those on networks, then those of its links, in document order."""
    found = list(doc.nodes[name].interfaces)
    for link in doc.links:
        for end in link.endpoints:
            node, _, iface = end.partition(":")
            if node == name and iface not in found:
                found.append(iface)
    return found


def has_trait(kind_name: str, trait: str) -> bool:
    kind = get_kind(kind_name)
    return bool(kind is not None and getattr(kind, trait))


def setup_commands(
    doc: LabDoc, name: str, addresses: dict[str, str], renamed: dict[str, str] | None = None
) -> list[str]:
    """`ip addr` for each interface's address (written, or handed out: `addresses` by
    `node:iface`), forwarding for routers, `ip route` for each route. `renamed` maps interface
    names to the ones the peer uses (and says which interfaces are carried over)."""
    node = doc.nodes[name]
    renamed = renamed if renamed is not None else {iface: iface for iface in interfaces_of(doc, name)}
    commands = []
    for iface, new in renamed.items():
        attached = node.interfaces.get(iface)
        written = (
            attached.address if attached is not None and attached.address not in (None, "", "auto") else None
        )
        address = written or addresses.get(f"{name}:{iface}")
        if address:
            commands.append(f"ip addr add {address} dev {new}")
    if has_trait(node.kind, "forwards"):
        commands.append("sysctl -w net.ipv4.ip_forward=1")
    commands += [f"ip route add {route.to} via {route.via}" for route in node.routes or []]
    return commands
