"""Capturing a trace: a packet socket in each of the lab's namespaces here (every node's, and the
fabric's, whose ports are the cables), filtered to IP and ARP, read with kernel timestamps."""

from __future__ import annotations

import ctypes
import socket
import struct
import time
from dataclasses import dataclass

from .. import netdump, nsock
from ..frames import Packet, read_arp, read_frame
from ..labels import parse_alias

SNAP = 1024  # bytes kept of each frame: the headers, and a VXLAN packet's inner ones
MAX_FRAMES = 5000  # read of each namespace: a busy lab does not make a trace read forever
SO_TIMESTAMPNS = SCM_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003
ETH_P_ARP = b"\x08\x06"  # the ethertype of an ARP frame, as it stands in the frame


@dataclass
class Sighting:
    at: float  # seconds, the kernel's timestamp
    order: int
    node: str  # "" in the fabric
    iface: str
    cable: str  # the fabric port's cable, "node:iface"
    outgoing: bool
    packet: Packet
    leg: str = ""  # request | reply | error


def _ip_and_arp() -> bytes:
    """A classic BPF program (five instructions, written out: the kernel takes only bytecode)
    keeping IPv4 and ARP frames, cut to SNAP bytes."""
    code = [(0x28, 0, 0, 12), (0x15, 1, 0, 0x0800), (0x15, 0, 1, 0x0806), (0x06, 0, 0, SNAP), (0x06, 0, 0, 0)]
    return b"".join(struct.pack("HBBI", *op) for op in code)


_CODE = _ip_and_arp()
_FILTER = ctypes.create_string_buffer(_CODE, len(_CODE))
_PROGRAM = struct.pack("HL", len(_CODE) // 8, ctypes.addressof(_FILTER))


_STAMPING: list[socket.socket] = []


def keep_timestamps_on() -> None:
    """Hold one socket that asks for timestamps for as long as this process lives. The kernel
    stamps packets as they arrive only while some socket wants stamps, and it turns that on
    from a deferred work item the first time: a trace whose captures were the first to ask
    could see its first packets stamped when read, out of order on a busy machine."""
    if not _STAMPING:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        _STAMPING.append(sock)


def open_captures(paths: dict[str, str]) -> dict[str, socket.socket]:
    """A packet socket in each namespace (path -> owner node, "" for the fabric); those that could
    not be made (a namespace gone meanwhile) are left out."""
    keep_timestamps_on()
    made = nsock.sockets_in(list(paths), socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    out = {}
    for path, sock in made.items():
        if isinstance(sock, BaseException):
            continue
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _PROGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        out[path] = sock
    return out


@dataclass
class Asked:
    """An ARP question a node asked: for `target`, on `iface`."""

    node: str
    iface: str
    target: str


def read_captures(
    sockets: dict[str, socket.socket], owners: dict[str, str], cables: dict[str, str]
) -> tuple[list[Sighting], list[Asked], set[str]]:
    """The IPv4 frames seen, the ARP questions nodes asked, and the addresses that answered one."""
    found: list[Sighting] = []
    asked: list[Asked] = []
    answered: set[str] = set()
    order = 0
    for path, sock in sockets.items():
        for _ in range(MAX_FRAMES):
            try:
                frame, ancillary, _, address = sock.recvmsg(SNAP, socket.CMSG_SPACE(16))
            except (BlockingIOError, InterruptedError):
                break
            ifname, pkttype = address[0], address[2]
            if ifname == "lo" and pkttype == PACKET_OUTGOING:
                continue  # seen again coming in
            if frame[12:14] == ETH_P_ARP:
                arp = read_arp(frame)
                if arp and arp[0] == 1 and owners[path] and pkttype == PACKET_OUTGOING:
                    asked.append(Asked(owners[path], ifname, arp[2]))
                elif arp and arp[0] == 2:
                    answered.add(arp[1])
                continue
            packet = read_frame(frame)
            if packet is None:
                continue
            order += 1
            owner = owners[path]
            found.append(
                Sighting(
                    at=_stamp(ancillary),
                    order=order,
                    node=owner,
                    iface=ifname,
                    cable="" if owner else cables.get(ifname, ""),
                    outgoing=pkttype == PACKET_OUTGOING,
                    packet=packet,
                )
            )
    return found, asked, answered


def _stamp(ancillary: list[tuple[int, int, bytes]]) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= 16:
            seconds, nanos = struct.unpack("qq", data[:16])
            return float(seconds + nanos / 1e9)
    return time.time()


def fabric_cables(path: str) -> dict[str, str]:
    """The fabric's port names -> the cable each is the end of."""
    reader = nsock.netlink_in(path, 0)
    try:
        links = netdump.links(reader)
    finally:
        reader.close()
    out = {}
    for name, link in links.items():
        owned = parse_alias(link.alias)
        if owned and owned[1]:
            out[name] = owned[1]
    return out
