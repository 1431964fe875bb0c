"""One watched namespace: its netlink event socket, and what its interfaces look like.

`read()` turns a fresh netlink dump into plain state: node-side interfaces with their
oper state, carrier and addresses; fabric-side cable ends with plugged or pulled; and
interface counters with rates since the last sample.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

from pyroute2 import IPRoute
from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_LINK

from ..labels import parse_alias
from ..nsock import netlink_fd_in, socket_in

IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
NETLINK_ROUTE = 0
COUNTERS = ("rx_bytes", "tx_bytes", "rx_packets", "tx_packets", "rx_dropped", "tx_dropped")


@dataclass
class Watch:
    """A lab namespace being watched: a node's (owner = node name) or the fabric (owner = '')."""

    lab: str
    owner: str
    path: str
    pid: int = 0
    events: socket.socket | None = None
    ipr: IPRoute | None = None
    last_counters: dict[str, tuple[float, dict]] = field(default_factory=dict)
    last_ports: list = field(default_factory=list)
    owners: dict = field(default_factory=dict)

    def open(self) -> None:
        self.events = socket_in(self.path, socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.events.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR))
        self.events.setblocking(False)
        self.ipr = IPRoute(fileno=netlink_fd_in(self.path))

    def close(self) -> None:
        if self.events is not None:
            self.events.close()
        if self.ipr is not None:
            self.ipr.close()

    def drain(self) -> None:
        try:
            while self.events.recv(65536):
                pass
        except (BlockingIOError, OSError):
            pass

    def read(self) -> tuple[dict[str, dict], dict[str, dict]]:
        """(interfaces by "node:iface", raw counters by "node:iface") from one dump."""
        addresses: dict[int, list[str]] = {}
        for msg in self.ipr.get_addr(family=socket.AF_INET):
            addresses.setdefault(msg["index"], []).append(f"{msg.get('IFA_ADDRESS')}/{msg['prefixlen']}")
        found, counters = {}, {}
        for msg in self.ipr.get_links():
            owned = parse_alias(msg.get("IFLA_IFALIAS") or "")
            if owned is None or owned[0] != self.lab:
                continue
            kind = (msg.get("IFLA_LINKINFO") or {}).get("IFLA_INFO_KIND") if msg.get("IFLA_LINKINFO") else ""
            if kind != "veth":
                continue
            note = owned[1]
            flags = msg["flags"]
            if self.owner and not note:
                key = f"{self.owner}:{msg.get('IFLA_IFNAME')}"
                # oper from the flags, which change at once; IFLA_OPERSTATE lags behind them
                found[key] = {
                    "oper": "up" if flags & IFF_UP and flags & IFF_LOWER_UP else "down",
                    "admin": bool(flags & IFF_UP),
                    "carrier": bool(flags & IFF_LOWER_UP),
                    "addresses": sorted(addresses.get(msg["index"], [])),
                }
                stats = msg.get("IFLA_STATS64") or {}
                counters[key] = {name: stats.get(name, 0) for name in COUNTERS}
            elif not self.owner and note:
                found[note] = {"cable": "plugged" if flags & IFF_UP else "pulled"}
        return found, counters

    def rates(self, counters: dict[str, dict]) -> dict[str, dict]:
        """Counters with per-second rates since the previous sample of the same interface."""
        now = time.monotonic()
        out = {}
        for key, values in counters.items():
            before = self.last_counters.get(key)
            item = dict(values)
            if before is not None and now > before[0]:
                span = now - before[0]
                item["rx_bps"] = max(0, (values["rx_bytes"] - before[1]["rx_bytes"]) * 8 / span)
                item["tx_bps"] = max(0, (values["tx_bytes"] - before[1]["tx_bytes"]) * 8 / span)
                item["rx_pps"] = max(0, (values["rx_packets"] - before[1]["rx_packets"]) / span)
                item["tx_pps"] = max(0, (values["tx_packets"] - before[1]["tx_packets"]) / span)
            else:
                item.update(rx_bps=0, tx_bps=0, rx_pps=0, tx_pps=0)
            self.last_counters[key] = (now, values)
            out[key] = {k: round(v, 1) if isinstance(v, float) else v for k, v in item.items()}
        return out
