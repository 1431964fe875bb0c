"""One watched namespace: its netlink event socket, and what its interfaces look like.

`read()` turns a fresh netlink dump into plain state: node-side interfaces with their
oper state, carrier and addresses, and the node's routes; fabric-side cable ends with plugged or pulled; and
(when sampling) interface counters, with rates since the last sample. The dumps are read
with `netdump` (a tenth of pyroute2's cost per namespace), so that a lab host busy with many
namespaces still answers a cable pull at once.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from typing import Any

from pyroute2.netlink.rtnl import RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE, RTMGRP_LINK

from .. import netdump
from ..labels import parse_alias
from ..nsock import netlink_in
from ..sockets import NETLINK_SOCK_DIAG

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
    reader: socket.socket | None = None
    diag: socket.socket | None = None  # a node's: for its listening sockets
    last_counters: dict[str, tuple[float, dict[str, Any]]] = field(default_factory=dict)
    last_ports: list[tuple[str, int]] = field(default_factory=list)
    owners: dict[tuple[str, int], str] = field(default_factory=dict)
    owners_pending: bool = False  # a lookup of the owners is on its way
    owners_again: bool = False  # the ports changed while it was: look again after it

    def open(self) -> None:
        groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | (RTMGRP_IPV4_ROUTE if self.owner else 0)
        self.events = netlink_in(self.path, NETLINK_ROUTE, groups)
        self.events.setblocking(False)
        self.reader = netlink_in(self.path, NETLINK_ROUTE)
        if self.owner and self.pid:
            self.diag = netlink_in(self.path, NETLINK_SOCK_DIAG)

    def close(self) -> None:
        for sock in (self.events, self.reader, self.diag):
            if sock is not None:
                sock.close()

    def drain(self) -> None:
        try:
            while _opened(self.events).recv(65536):
                pass
        except (BlockingIOError, OSError):
            pass

    def read(
        self, counters: bool = False
    ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[dict[str, Any]] | None]:
        """(interfaces by "node:iface", raw counters by "node:iface" when asked, a node's routes
        when not sampling counters) from one dump each."""
        found, raw = {}, {}
        reader = _opened(self.reader)
        links = netdump.links(reader, stats=counters)
        addresses = netdump.addresses(reader) if self.owner else {}
        for name, link in links.items():
            owned = parse_alias(link.alias)
            if owned is None or owned[0] != self.lab or link.kind != "veth":
                continue
            note = owned[1]
            if self.owner and not note:
                key = f"{self.owner}:{name}"
                # oper from the flags, which change at once; IFLA_OPERSTATE lags behind them
                found[key] = {
                    "oper": "up" if link.up and link.carrier else "down",
                    "admin": link.up,
                    "carrier": link.carrier,
                    "addresses": sorted(a for a in addresses.get(link.index, ()) if ":" not in a),
                }
                if link.stats is not None:
                    raw[key] = {name: link.stats.get(name, 0) for name in COUNTERS}
            elif not self.owner and note:
                found[note] = {"cable": "plugged" if link.up else "pulled"}
        # routes change only with a netlink event: a counter sample does not read them again
        return found, raw, self._routes(links) if self.owner and not counters else None

    def _routes(self, links: dict[str, Any]) -> list[dict[str, Any]]:
        names = {link.index: name for name, link in links.items()}
        return [
            {"to": "default" if r.to == "0.0.0.0/0" else r.to, "via": r.via, "dev": names.get(r.oif, "")}
            for r in netdump.main_routes(_opened(self.reader))
        ]

    def rates(self, counters: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
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


def _opened(sock: socket.socket | None) -> socket.socket:
    if sock is None:
        raise OSError("the watch is not open")  # what a closed socket raises too
    return sock
