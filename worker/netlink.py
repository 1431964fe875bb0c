"""Interfaces, bridges, veth pairs, VXLAN ends, addresses and routes, over netlink.

Per namespace, a plain socket reads it in bulk (`netdump`) and a pyroute2 socket, opened on
the first change, changes it; both are opened once per converge (`Namespaces`). Every
function here reads or changes one namespace and returns what it changed.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable, Iterable
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from topology.spec import StitchSpec

from . import netdump
from .errors import EngineError
from .labels import ROUTE_PROTO
from .netdump import Link
from .nsock import netlink_fd_in, sockets_in

ZERO_MAC = "00:00:00:00:00:00"

__all__ = ["Link", "Namespace", "Namespaces"]


class Namespace:
    """One namespace: read in bulk, changed through pyroute2 (opened on the first change)."""

    def __init__(self, owner: Namespaces, path: str):
        self.owner, self.path = owner, path

    @property
    def ipr(self) -> IPRoute:
        return self.owner[self.path]

    def links(self) -> dict[str, Link]:
        return netdump.links(self.owner.reader(self.path))

    def addresses(self) -> dict[int, set[str]]:
        return netdump.addresses(self.owner.reader(self.path))

    def routes(self) -> dict[str, str | None]:
        return netdump.routes(self.owner.reader(self.path), ROUTE_PROTO)


class Namespaces:
    """Netlink sockets by namespace path, opened on first use and closed together."""

    def __init__(self, underlay: str = "") -> None:
        self._sockets: dict[str, IPRoute] = {}
        self._readers: dict[str, socket.socket | OSError] = {}
        self._fds: dict[str, int] = {}
        self.root = IPRoute()
        self.underlay_path = underlay  # where tunnels between lab hosts start ('': the root namespace)

    @property
    def underlay(self) -> IPRoute:
        return self[self.underlay_path] if self.underlay_path else self.root

    def at(self, path: str) -> Namespace:
        return Namespace(self, path)

    def reader(self, path: str) -> socket.socket:
        if path not in self._readers:
            self.open_readers([path])
        made = self._readers[path]
        if isinstance(made, OSError):
            raise EngineError(f"namespace {path} is gone: {made.strerror}")
        return made

    def open_readers(self, paths: Iterable[str]) -> None:
        """Reading sockets for many namespaces at once (one thread makes them all)."""
        wanted = [p for p in dict.fromkeys(paths) if p and p not in self._readers]
        for path, made in sockets_in(wanted, socket.AF_NETLINK, socket.SOCK_DGRAM, 0).items():
            if not isinstance(made, OSError):
                made.bind((0, 0))
            self._readers[path] = made

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
        for sock in [*self._sockets.values(), *self._readers.values()]:
            if not isinstance(sock, OSError):
                sock.close()
        for fd in self._fds.values():
            os.close(fd)
        self.root.close()
        self._sockets.clear()
        self._readers.clear()
        self._fds.clear()


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
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


def create_stitch(where: Namespace, stitch: StitchSpec) -> None:
    """A VXLAN end made from the underlay namespace straight into `where` (a fabric): its UDP
    socket stays in the underlay, so the lab's namespace holds no address of the lab host's."""
    ns = where.owner
    _call(
        f"creating the stitch {stitch.name} (VNI {stitch.vni}) from {stitch.local}",
        ns.underlay.link,
        "add",
        ifname=stitch.name,
        kind="vxlan",
        vxlan_id=stitch.vni,
        vxlan_local=stitch.local,
        vxlan_port=stitch.port,
        vxlan_learning=1,
        mtu=stitch.mtu,
        net_ns_fd=ns.fd(where.path),
    )


def delete_link(ipr: IPRoute, index: int) -> None:
    try:
        ipr.link("del", index=index)
    except NetlinkError as exc:
        if exc.code != 19:  # ENODEV: gone with its peer already
            raise EngineError(f"deleting interface {index}: {os.strerror(exc.code)}") from None


def shape(where: Namespace, link: Link, alias: str, mtu: int | None, master: int) -> list[str]:
    """Give an interface its alias, MTU and bridge, then bring it up."""
    changes = []
    settings: dict[str, Any] = {}
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
        _call(f"setting up {link.name}", where.ipr.link, "set", index=link.index, **settings)
    return changes


def hairpin(where: Namespace, link: Link) -> None:
    """Let a bridge port send a frame back out where it came in: a container whose connection its
    host DNATs back to itself (a published port, a service's backend), as Docker does."""
    _call(f"setting hairpin mode on {link.name}", where.ipr.brport, "set", index=link.index, mode=1)


def sync_addresses(where: Namespace, link: Link, wanted: list[str], have: set[str]) -> list[str]:
    """Make an interface's addresses `wanted`, given what it has (from `Namespace.addresses()`)."""
    changes = []
    for cidr in sorted(set(wanted) - have):
        ip = ipaddress.ip_interface(cidr)
        _call(
            f"adding {cidr} to {link.name}",
            where.ipr.addr,
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
            where.ipr.addr,
            "del",
            index=link.index,
            address=str(ip.ip),
            prefixlen=ip.network.prefixlen,
        )
        changes.append(f"no address {cidr}")
    return changes


def _route_key(to: str) -> str:
    return "0.0.0.0/0" if to == "default" else str(ipaddress.ip_network(to, strict=False))


def sync_routes(where: Namespace, wanted: list[tuple[str, str]]) -> list[str]:
    """Make the engine's own routes (marked by protocol) equal `wanted` (to, via)."""
    have = where.routes()
    want = {_route_key(to): via for to, via in wanted}
    changes = []
    for dst, via in have.items():
        if want.get(dst) != via:
            _call(f"removing route {dst}", where.ipr.route, "del", dst=dst, gateway=via, proto=ROUTE_PROTO)
            changes.append(f"no route {dst}")
    for dst, via in want.items():
        if have.get(dst) != via:
            add = where.ipr.route
            _call(f"adding route {dst} via {via}", add, "replace", dst=dst, gateway=via, proto=ROUTE_PROTO)
            changes.append(f"route {dst} via {via}")
    return changes


def sync_flood_list(where: Namespace, link: Link, peers: list[str]) -> list[str]:
    """A VXLAN end's all-zero FDB entries: where broadcast and unknown frames go."""
    ipr = where.ipr
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
