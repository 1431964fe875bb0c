"""Interfaces, bridges, veth pairs, VXLAN ends, addresses and routes, over netlink.

One pyroute2 socket per namespace, opened once per converge (`Namespaces`); every
function here reads or changes one namespace and returns what it changed.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from .errors import EngineError
from .labels import ROUTE_PROTO
from .nsock import netlink_fd_in

IFF_UP = 0x1
ZERO_MAC = "00:00:00:00:00:00"


@dataclass
class Link:
    """An interface as the kernel has it."""

    index: int
    name: str
    kind: str
    alias: str
    master: int
    mtu: int
    up: bool


class Namespaces:
    """Netlink sockets by namespace path, opened on first use and closed together."""

    def __init__(self) -> None:
        self._sockets: dict[str, IPRoute] = {}
        self._fds: dict[str, int] = {}
        self.root = IPRoute()

    def __getitem__(self, path: str) -> IPRoute:
        if path not in self._sockets:
            # not IPRoute(netns=...): that forks a helper per namespace, and by default
            # (O_CREAT) makes again a namespace that vanished
            try:
                self._sockets[path] = IPRoute(fileno=netlink_fd_in(path))
            except OSError as exc:
                raise EngineError(f"namespace {path} is gone: {exc.strerror}") from None
        return self._sockets[path]

    def fd(self, path: str) -> int:
        if path not in self._fds:
            self._fds[path] = os.open(path, os.O_RDONLY)
        return self._fds[path]

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        for fd in self._fds.values():
            os.close(fd)
        self.root.close()
        self._sockets.clear()
        self._fds.clear()


def links(ipr: IPRoute) -> dict[str, Link]:
    out = {}
    for msg in ipr.get_links():
        info = msg.get("IFLA_LINKINFO")
        out[msg.get("IFLA_IFNAME")] = Link(
            index=msg["index"],
            name=msg.get("IFLA_IFNAME"),
            kind=info.get("IFLA_INFO_KIND") if info else "",
            alias=msg.get("IFLA_IFALIAS") or "",
            master=msg.get("IFLA_MASTER") or 0,
            mtu=msg.get("IFLA_MTU") or 0,
            up=bool(msg["flags"] & IFF_UP),
        )
    return out


def _call(what: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except NetlinkError as exc:
        raise EngineError(f"{what}: {os.strerror(exc.code) if exc.code > 0 else exc}") from None


def create_veth(ns: Namespaces, a: tuple[str, str], b: tuple[str, str], mtu: int | None) -> None:
    """A veth pair made straight into two namespaces: a = (netns path, name), b likewise."""
    extra = {"mtu": mtu} if mtu else {}
    peer = {"ifname": b[1], "net_ns_fd": ns.fd(b[0]), **extra}
    _call(
        f"creating veth {a[1]}/{b[1]}",
        ns.root.link,
        "add",
        ifname=a[1],
        kind="veth",
        net_ns_fd=ns.fd(a[0]),
        peer=peer,
        **extra,
    )


def create_bridge(ipr: IPRoute, name: str, mtu: int | None) -> None:
    extra = {"mtu": mtu} if mtu else {}
    _call(f"creating bridge {name}", ipr.link, "add", ifname=name, kind="bridge", br_stp_state=0, **extra)


def create_vxlan(ipr: IPRoute, name: str, vni: int, local: str, port: int) -> None:
    _call(
        f"creating VXLAN {name}",
        ipr.link,
        "add",
        ifname=name,
        kind="vxlan",
        vxlan_id=vni,
        vxlan_local=local,
        vxlan_port=port,
        vxlan_learning=1,
    )


def delete_link(ipr: IPRoute, index: int) -> None:
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != 19:  # ENODEV: gone with its peer already
            raise EngineError(f"deleting interface {index}: {os.strerror(exc.code)}") from None


def shape(ipr: IPRoute, link: Link, alias: str, mtu: int | None, master: int) -> list[str]:
    """Give an interface its alias, MTU and bridge, then bring it up."""
    changes = []
    settings = {}
    if link.alias != alias:
        settings["ifalias"] = alias
    if mtu and link.mtu != mtu:
        settings["mtu"] = mtu
        changes.append(f"mtu {mtu}")
    if link.master != master:
        settings["master"] = master
        changes.append("attach to bridge" if master else "detach from bridge")
    if not link.up:
        settings["state"] = "up"
        changes.append("up")
    if settings:
        _call(f"setting up {link.name}", ipr.link, "set", index=link.index, **settings)
    return changes


def addresses(ipr: IPRoute) -> dict[int, set[str]]:
    """Every address of the namespace by interface index, from one dump (link-local v6 left out)."""
    found: dict[int, set[str]] = {}
    for a in ipr.get_addr():
        address = a.get("IFA_ADDRESS")
        if address and not address.startswith("fe80:"):
            found.setdefault(a["index"], set()).add(f"{address}/{a['prefixlen']}")
    return found


def sync_addresses(ipr: IPRoute, link: Link, wanted: list[str], have: set[str]) -> list[str]:
    """Make an interface's addresses `wanted`, given what it has (from `addresses()`)."""
    changes = []
    for cidr in sorted(set(wanted) - have):
        ip = ipaddress.ip_interface(cidr)
        _call(
            f"adding {cidr} to {link.name}",
            ipr.addr,
            "add",
            index=link.index,
            address=str(ip.ip),
            prefixlen=ip.network.prefixlen,
        )
        changes.append(f"address {cidr}")
    for cidr in sorted(have - set(wanted)):
        ip = ipaddress.ip_interface(cidr)
        _call(
            f"removing {cidr}",
            ipr.addr,
            "del",
            index=link.index,
            address=str(ip.ip),
            prefixlen=ip.network.prefixlen,
        )
        changes.append(f"no address {cidr}")
    return changes


def _route_key(to: str) -> str:
    return "0.0.0.0/0" if to == "default" else str(ipaddress.ip_network(to, strict=False))


def sync_routes(ipr: IPRoute, wanted: list[tuple[str, str]]) -> list[str]:
    """Make the engine's own routes (marked by protocol) equal `wanted` (to, via)."""
    have = {}
    for route in ipr.get_routes(family=2, table=254):
        if route["proto"] != ROUTE_PROTO:
            continue
        dst = f"{route.get('RTA_DST') or '0.0.0.0'}/{route['dst_len']}"  # noqa: S104
        have[dst] = route.get("RTA_GATEWAY")
    want = {_route_key(to): via for to, via in wanted}
    changes = []
    for dst, via in have.items():
        if want.get(dst) != via:
            _call(f"removing route {dst}", ipr.route, "del", dst=dst, gateway=via, proto=ROUTE_PROTO)
            changes.append(f"no route {dst}")
    for dst, via in want.items():
        if have.get(dst) != via:
            _call(
                f"adding route {dst} via {via}", ipr.route, "replace", dst=dst, gateway=via, proto=ROUTE_PROTO
            )
            changes.append(f"route {dst} via {via}")
    return changes


def sync_flood_list(ipr: IPRoute, link: Link, peers: list[str]) -> list[str]:
    """A VXLAN end's all-zero FDB entries: where broadcast and unknown frames go."""
    have = set()
    for entry in ipr.fdb("dump"):
        if entry["ifindex"] == link.index and entry.get("NDA_LLADDR") == ZERO_MAC and entry.get("NDA_DST"):
            have.add(entry.get("NDA_DST"))
    changes = []
    for peer in sorted(set(peers) - have):
        _call(f"flooding to {peer}", ipr.fdb, "append", ifindex=link.index, lladdr=ZERO_MAC, dst=peer)
        changes.append(f"flood to {peer}")
    for peer in sorted(have - set(peers)):
        _call(f"not flooding to {peer}", ipr.fdb, "del", ifindex=link.index, lladdr=ZERO_MAC, dst=peer)
        changes.append(f"no flood to {peer}")
    return changes
