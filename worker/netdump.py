"""Reading a namespace's links, addresses and routes in bulk: one netlink dump each, parsed
for the few attributes the engine compares.

Changes still go through pyroute2 (`netlink.py`). Its reads decode every attribute of every
message (statistics included) and cost about 5 ms per namespace here; a lab of a hundred
namespaces read back on every converge made that most of an unchanged re-converge. These
dumps skip the statistics and parse with `struct`: about 0.5 ms per namespace.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from typing import Any

from .errors import EngineError

HEADER = struct.Struct("IHHII")  # nlmsghdr: length, type, flags, seq, pid
ATTR = struct.Struct("HH")
IFINFO = struct.Struct("BxHiII")  # family, type, index, flags, change
IFADDR = struct.Struct("BBBBI")  # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags

NLMSG_ERROR, NLMSG_DONE = 2, 3
NLM_F_DUMP_REQUEST = 0x301  # NLM_F_REQUEST | NLM_F_DUMP
NLM_F_DUMP_INTR = 0x10
RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE = 18, 22, 26
IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_STATS64, IFLA_EXT_MASK = (
    3,
    4,
    10,
    18,
    20,
    23,
    29,
)
STATS64 = struct.Struct("8Q")  # the first fields of rtnl_link_stats64
STATS_FIELDS = ("rx_packets", "tx_packets", "rx_bytes", "tx_bytes", "rx_errors", "tx_errors", "rx_dropped",
                "tx_dropped")  # fmt: skip
IFLA_INFO_KIND = 1
RTEXT_FILTER_SKIP_STATS = 1 << 3
IFA_ADDRESS = 1
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
MAIN_TABLE = 254
LINK_ATTRIBUTES = frozenset({IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_STATS64})
KIND_ATTRIBUTE = frozenset({IFLA_INFO_KIND})
ADDRESS_ATTRIBUTE = frozenset({IFA_ADDRESS})
ROUTE_ATTRIBUTES = frozenset({RTA_TABLE, RTA_DST, RTA_GATEWAY, RTA_OIF})


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
    carrier: bool = False  # the cable's other end is there and up
    stats: dict[str, int] | None = None  # packet and byte counters, when asked for


def attributes(data: bytes, offset: int, wanted: frozenset[Any]) -> dict[int, bytes]:
    """The values of the `wanted` attributes from `offset` on (the others are skipped)."""
    found, end, unpack = {}, len(data), ATTR.unpack_from
    while offset + 4 <= end:
        length, kind = unpack(data, offset)
        if length < 4:
            break
        if kind & 0x7FFF in wanted:
            found[kind & 0x7FFF] = data[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return found


def text_of(value: bytes) -> str:
    return value.split(b"\0", 1)[0].decode(errors="replace")


def _number(value: bytes | None) -> int:
    return struct.unpack("I", value[:4])[0] if value else 0


def dump(sock: socket.socket, msg_type: int, body: bytes, what: str) -> list[bytes]:
    """The messages of one dump; tried again when the kernel says a change interrupted it."""
    for _ in range(5):
        messages, interrupted = _dump_once(sock, msg_type, body, what)
        if not interrupted:
            return messages
    raise EngineError(f"reading {what}: the namespace kept changing")


def _dump_once(sock: socket.socket, msg_type: int, body: bytes, what: str) -> tuple[list[bytes], bool]:
    sock.send(HEADER.pack(HEADER.size + len(body), msg_type, NLM_F_DUMP_REQUEST, 1, 0) + body)
    messages: list[bytes] = []
    interrupted = False
    while True:
        data = sock.recv(1 << 16)
        offset = 0
        while offset + HEADER.size <= len(data):
            length, kind, flags, _, _ = HEADER.unpack_from(data, offset)
            if length < HEADER.size:
                raise EngineError(f"reading {what}: a malformed netlink message")
            interrupted = interrupted or bool(flags & NLM_F_DUMP_INTR)
            if kind == NLMSG_DONE:
                return messages, interrupted
            if kind == NLMSG_ERROR:
                code = -struct.unpack_from("i", data, offset + HEADER.size)[0]
                if code:
                    raise EngineError(f"reading {what}: {os.strerror(code)}")
            else:
                messages.append(data[offset + HEADER.size : offset + length])
            offset += (length + 3) & ~3


def links(sock: socket.socket, stats: bool = False) -> dict[str, Any]:
    """Every interface by name (with `stats`, its counters too)."""
    skip_stats = b"" if stats else ATTR.pack(8, IFLA_EXT_MASK) + struct.pack("I", RTEXT_FILTER_SKIP_STATS)
    body = IFINFO.pack(0, 0, 0, 0, 0) + skip_stats
    out = {}
    for msg in dump(sock, RTM_GETLINK, body, "interfaces"):
        _, _, index, flags, _ = IFINFO.unpack_from(msg)
        found = attributes(msg, IFINFO.size, LINK_ATTRIBUTES)
        info = attributes(found.get(IFLA_LINKINFO, b""), 0, KIND_ATTRIBUTE)
        name = text_of(found.get(IFLA_IFNAME, b""))
        out[name] = Link(
            index=index, name=name, kind=text_of(info.get(IFLA_INFO_KIND, b"")),
            alias=text_of(found.get(IFLA_IFALIAS, b"")), master=_number(found.get(IFLA_MASTER)),
            mtu=_number(found.get(IFLA_MTU)), up=bool(flags & IFF_UP), carrier=bool(flags & IFF_LOWER_UP),
            stats=_stats(found.get(IFLA_STATS64)) if stats else None,
        )  # fmt: skip
    return out


def _stats(value: bytes | None) -> dict[str, int]:
    if not value or len(value) < STATS64.size:
        return dict.fromkeys(STATS_FIELDS, 0)
    return dict(zip(STATS_FIELDS, STATS64.unpack_from(value), strict=True))


def addresses(sock: socket.socket) -> dict[int, set[str]]:
    """Every address by interface index as `address/prefix` (IPv6 link-local left out)."""
    found: dict[int, set[str]] = {}
    for msg in dump(sock, RTM_GETADDR, IFADDR.pack(0, 0, 0, 0, 0), "addresses"):
        _, prefixlen, _, _, index = IFADDR.unpack_from(msg)
        value = attributes(msg, IFADDR.size, ADDRESS_ATTRIBUTE).get(IFA_ADDRESS, b"")
        if len(value) in (4, 16):
            address = ipaddress.ip_address(value)
            if not address.is_link_local or address.version == 4:
                found.setdefault(index, set()).add(f"{address}/{prefixlen}")
    return found


def routes(sock: socket.socket, protocol: int | None) -> dict[str, str | None]:
    """IPv4 routes of the main table made by `protocol` (None: by anyone): destination/length
    -> gateway."""
    return {r.to: r.via for r in main_routes(sock) if protocol in (None, r.protocol)}


@dataclass
class Route:
    """An IPv4 route of the main table."""

    to: str  # destination/length
    via: str | None
    oif: int  # the outgoing interface's index (0: none)
    protocol: int


def main_routes(sock: socket.socket) -> list[Route]:
    """The IPv4 routes of the main table, in the kernel's order."""
    out = []
    body = RTMSG.pack(socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
    for msg in dump(sock, RTM_GETROUTE, body, "routes"):
        _, dst_len, _, _, table, proto, _, _, _ = RTMSG.unpack_from(msg)
        found = attributes(msg, RTMSG.size, ROUTE_ATTRIBUTES)
        table = _number(found[RTA_TABLE]) if RTA_TABLE in found else table
        if table != MAIN_TABLE:
            continue
        destination = str(ipaddress.ip_address(found[RTA_DST])) if RTA_DST in found else "0.0.0.0"  # noqa: S104
        gateway = str(ipaddress.ip_address(found[RTA_GATEWAY])) if RTA_GATEWAY in found else None
        out.append(Route(f"{destination}/{dst_len}", gateway, _number(found.get(RTA_OIF)), proto))
    return out
