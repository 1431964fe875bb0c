"""Captured frames read into what a journey needs of them (dpkt parses the headers; a VXLAN header,
which dpkt lacks, is eight bytes read here): IPv4 and its TCP, UDP or ICMP header, an ICMP error's
quoted packet, and a VXLAN packet's inner frame with its VNI and outer addresses."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass, field
from typing import Any

import dpkt

VXLAN_PORT = 4789
ICMP_ERRORS = (dpkt.icmp.ICMP_UNREACH, dpkt.icmp.ICMP_TIMEXCEED, dpkt.icmp.ICMP_PARAMPROB)
TCP_FLAGS = ((dpkt.tcp.TH_SYN, "S"), (dpkt.tcp.TH_ACK, "A"), (dpkt.tcp.TH_RST, "R"), (dpkt.tcp.TH_FIN, "F"))


@dataclass
class Packet:
    protocol: str  # icmp | tcp | udp
    src: str
    dst: str
    sport: int = 0  # an ICMP echo's identifier stands for both ports, as conntrack has it
    dport: int = 0
    ttl: int = 0
    flags: str = ""  # TCP's, as "SA"
    seq: int = 0
    ack: int = 0
    icmp: tuple[int, int] | None = None  # type, code
    payload: bytes = b""  # UDP's data, or an ICMP echo's
    quoted: Packet | None = None  # what an ICMP error is about
    tunnel: dict[str, Any] = field(default_factory=dict)  # a VXLAN packet's: vni, outer src and dst

    def tuple(self) -> tuple[str, int, str, int]:
        return self.src, self.sport, self.dst, self.dport

    def shown(self) -> dict[str, Any]:
        out = {"protocol": self.protocol, "src": self.src, "dst": self.dst, "ttl": self.ttl}
        if self.protocol != "icmp":
            out |= {"sport": self.sport, "dport": self.dport}
        if self.flags:
            out["flags"] = self.flags
        if self.icmp:
            out["icmp"] = _icmp_name(*self.icmp)
        return out


def echo_request(ident: int, seq: int, payload: bytes) -> bytes:
    """An ICMP echo request, checksummed, for a raw ICMP socket."""
    echo = dpkt.icmp.ICMP.Echo(id=ident, seq=seq, data=payload)
    return bytes(dpkt.icmp.ICMP(type=dpkt.icmp.ICMP_ECHO, code=0, data=echo))


def read_frame(frame: bytes) -> Packet | None:
    """The IPv4 packet an Ethernet frame carries (inside a VXLAN one: the inner one, with the
    tunnel noted), or None."""
    try:
        eth = dpkt.ethernet.Ethernet(frame)
    except (dpkt.UnpackError, struct.error):
        return None
    return read_ip(eth.data) if isinstance(eth.data, dpkt.ip.IP) else None


def read_arp(frame: bytes) -> tuple[int, str, str] | None:
    """An ARP frame's operation (1 who-has, 2 is-at), sender and target addresses, or None."""
    try:
        eth = dpkt.ethernet.Ethernet(frame)
    except (dpkt.UnpackError, struct.error):
        return None
    arp = eth.data
    if not isinstance(arp, dpkt.arp.ARP) or len(arp.spa) != 4 or len(arp.tpa) != 4:
        return None
    return arp.op, socket.inet_ntoa(arp.spa), socket.inet_ntoa(arp.tpa)


def read_ip(ip: dpkt.ip.IP, quoted: bool = False) -> Packet | None:
    src, dst = socket.inet_ntoa(ip.src), socket.inet_ntoa(ip.dst)
    body = ip.data
    if isinstance(body, dpkt.udp.UDP):
        if body.dport == VXLAN_PORT and not quoted and (inner := _vxlan(bytes(body.data))):
            inner.tunnel = {"kind": "vxlan", **inner.tunnel, "src": src, "dst": dst}
            return inner
        return Packet("udp", src, dst, body.sport, body.dport, ip.ttl, payload=bytes(body.data))
    if isinstance(body, dpkt.tcp.TCP):
        flags = "".join(letter for bit, letter in TCP_FLAGS if body.flags & bit)
        return Packet("tcp", src, dst, body.sport, body.dport, ip.ttl, flags, body.seq, body.ack)
    if isinstance(body, dpkt.icmp.ICMP):
        return _icmp(body, src, dst, ip.ttl)
    if quoted and isinstance(body, bytes) and len(body) >= 8 and ip.p in (6, 17):
        # a quote cut short: the ports (and TCP's sequence) are in its first eight bytes
        sport, dport, seq = struct.unpack("!HHI", body[:8])
        return Packet("tcp" if ip.p == 6 else "udp", src, dst, sport, dport, ip.ttl, seq=seq)
    return None


def _icmp(icmp: dpkt.icmp.ICMP, src: str, dst: str, ttl: int) -> Packet:
    out = Packet("icmp", src, dst, ttl=ttl, icmp=(icmp.type, icmp.code))
    body = icmp.data
    if icmp.type in (dpkt.icmp.ICMP_ECHO, dpkt.icmp.ICMP_ECHOREPLY) and isinstance(body, dpkt.icmp.ICMP.Echo):
        out.sport = out.dport = body.id
        out.seq, out.payload = body.seq, bytes(body.data)
    elif icmp.type in ICMP_ERRORS and isinstance(getattr(body, "data", None), dpkt.ip.IP):
        out.quoted = read_ip(body.data, quoted=True)
    return out


def _vxlan(data: bytes) -> Packet | None:
    if len(data) < 8 + 14 or not data[0] & 0x08:
        return None
    vni = int.from_bytes(data[4:7], "big")
    inner = read_frame(data[8:])
    if inner is not None:
        inner.tunnel = {"vni": vni}
    return inner


def _icmp_name(kind: int, code: int) -> str:
    names = {
        (0, None): "echo reply",
        (8, None): "echo request",
        (3, 0): "net unreachable",
        (3, 1): "host unreachable",
        (3, 3): "port unreachable",
        (3, 4): "fragmentation needed",
        (3, 9): "net prohibited",
        (3, 10): "host prohibited",
        (3, 13): "administratively prohibited",
        (11, None): "time exceeded",
    }
    return names.get((kind, code)) or names.get((kind, None)) or f"type {kind} code {code}"
