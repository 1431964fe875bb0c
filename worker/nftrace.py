"""Why a packet was dropped: nftables tracing in a node's namespace during a trace.

A table of its own (`wirelab_trace_*`) marks the probe's protocol for tracing before anything
else sees it (priority -350, before conntrack), and a netlink socket subscribed to the namespace's
trace group hears each rule the packet meets and its verdict. pyroute2 has no parser for trace
messages: their nfnetlink header is read here, their attributes with `netdump.attributes`. Rules
of iptables-nft are nftables rules and are traced too; iptables-legacy's are not (a drop there
shows only as the last place the packet was seen).
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import dpkt

from . import netdump, nsock
from .errors import EngineError
from .frames import Packet, read_ip
from .nat import chain, drop_table, fresh_table, nft, rule
from .natview import in_namespace

TABLE = "wirelab_trace"  # and the trace's own suffix: two traces at once never undo each other's
NETLINK_NETFILTER = 12
NFNLGRP_NFTRACE = 9
TRACE_MESSAGE = (10 << 8) | 17  # NFNL_SUBSYS_NFTABLES, NFT_MSG_TRACE
TABLE_ATTR, CHAIN_ATTR, HANDLE, KIND, VERDICT = 1, 2, 3, 4, 5
NETWORK_HEADER, TRANSPORT_HEADER, FAMILY_ATTR, POLICY = 8, 9, 15, 16
RULE, POLICY_KIND = 3, 1  # NFT_TRACETYPE_RULE, NFT_TRACETYPE_POLICY
NF_DROP = 0
TRACE_ATTRIBUTES = frozenset({TABLE_ATTR, CHAIN_ATTR, HANDLE, KIND, VERDICT, NETWORK_HEADER, TRANSPORT_HEADER,
                              FAMILY_ATTR, POLICY})  # fmt: skip
VERDICT_CODE = frozenset({1})  # NFTA_VERDICT_CODE
FAMILIES = {1: "inet", 2: "ip", 3: "arp", 5: "netdev", 7: "bridge", 10: "ip6"}
MAX_MESSAGES = 5000
PROTOCOL_NUMBERS = {"icmp": 1, "tcp": 6, "udp": 17}


@dataclass
class Verdict:
    """A rule or a chain's policy that dropped a packet, in a node's namespace."""

    node: str
    family: str
    table: str
    chain: str
    handle: int  # 0: the chain's policy
    packet: Packet


def marking(protocol: str, name: str) -> dict[str, Any]:
    mark = [
        {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": PROTOCOL_NUMBERS[protocol]}},
        {"mangle": {"key": {"meta": {"key": "nftrace"}}, "value": 1}},
    ]
    return {
        "nftables": [
            *fresh_table(name),
            chain("prerouting", "prerouting", -350, table=name, kind="filter"),
            chain("output", "output", -350, table=name, kind="filter"),
            rule("prerouting", mark, table=name),
            rule("output", mark, table=name),
        ]
    }


class Tracing:
    """Trace the probe's protocol in each node namespace (pid -> node) until closed."""

    def __init__(self, namespaces: dict[int, str], protocol: str):
        self.namespaces = namespaces
        self.table = f"{TABLE}_{secrets.token_hex(4)}"
        self.listeners: dict[int, socket.socket] = {}
        self.marked: list[int] = []
        paths = {f"/proc/{pid}/ns/net": pid for pid in namespaces}
        made = nsock.sockets_in(list(paths), socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER)
        for path, sock in made.items():
            if isinstance(sock, BaseException):
                continue
            sock.bind((0, 1 << (NFNLGRP_NFTRACE - 1)))
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            self.listeners[paths[path]] = sock
        with ThreadPoolExecutor(max(1, min(8, len(self.listeners)))) as pool:
            done = pool.map(lambda pid: self._mark(pid, protocol), list(self.listeners))
        self.marked = [pid for pid in done if pid]

    def _mark(self, pid: int, protocol: str) -> int:
        try:
            nft(pid, marking(protocol, self.table), "-f", "-")
        except EngineError:
            return 0  # a node without nftables in its kernel view: not traced
        return pid

    def drops(self) -> list[Verdict]:
        """Every drop heard, in the order each namespace heard them."""
        found = []
        for pid, sock in self.listeners.items():
            for message in _messages(sock):
                verdict = _drop(message, self.namespaces[pid])
                if verdict is not None:
                    found.append(verdict)
        return found

    def close(self) -> None:
        for sock in self.listeners.values():
            sock.close()
        if self.marked:
            with ThreadPoolExecutor(min(8, len(self.marked))) as pool:
                list(pool.map(self._unmark, self.marked))

    def _unmark(self, pid: int) -> None:
        with contextlib.suppress(EngineError):  # the node may be gone: its table went with it
            drop_table(pid, self.table)


def _messages(sock: socket.socket) -> Iterator[dict[int, bytes]]:
    count = 0
    while count < MAX_MESSAGES:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return  # ENOBUFS: more was traced than the buffer held; what was read stands
        offset = 0
        while offset + 16 <= len(data):
            length, kind = struct.unpack_from("=IH", data, offset)
            if length < 16:
                break
            if kind == TRACE_MESSAGE:
                count += 1
                # after nlmsghdr and nfgenmsg
                yield netdump.attributes(data[offset + 20 : offset + length], 0, TRACE_ATTRIBUTES)
            offset += (length + 3) & ~3


def _drop(attrs: dict[int, bytes], node: str) -> Verdict | None:
    kind = struct.unpack("!I", attrs[KIND])[0] if KIND in attrs else 0
    if kind == RULE and VERDICT in attrs:
        code = struct.unpack(
            "!i", netdump.attributes(attrs[VERDICT], 0, VERDICT_CODE).get(1, b"\xff\xff\xff\xff")
        )[0]
    elif kind == POLICY_KIND and POLICY in attrs:
        code = struct.unpack("!I", attrs[POLICY])[0]
    else:
        return None
    if code != NF_DROP or NETWORK_HEADER not in attrs:
        return None
    try:
        packet = read_ip(dpkt.ip.IP(attrs[NETWORK_HEADER] + attrs.get(TRANSPORT_HEADER, b"")), quoted=True)
    except (dpkt.UnpackError, struct.error):
        return None
    if packet is None:
        return None
    return Verdict(
        node=node,
        family=FAMILIES.get(struct.unpack("!I", attrs.get(FAMILY_ATTR, b"\0\0\0\2"))[0], "ip"),
        table=netdump.text_of(attrs.get(TABLE_ATTR, b"")),
        chain=netdump.text_of(attrs.get(CHAIN_ATTR, b"")),
        handle=struct.unpack("!Q", attrs[HANDLE])[0] if kind == RULE and HANDLE in attrs else 0,
        packet=packet,
    )


def rule_text(pid: int, verdict: Verdict) -> str:
    """The dropping rule as `nft` lists it (or the chain's policy)."""
    if not verdict.handle:
        return f"policy drop of chain {verdict.chain}"
    try:
        listed = in_namespace(
            pid, ["nft", "-a", "list", "chain", verdict.family, verdict.table, verdict.chain]
        )
    except EngineError:
        return ""  # the chain went meanwhile
    suffix = f"# handle {verdict.handle}"
    lines = [line.strip() for line in listed.splitlines()]
    return next((line[: -len(suffix)].strip() for line in lines if line.endswith(suffix)), "")
