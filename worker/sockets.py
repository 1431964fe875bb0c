"""Listening sockets of a namespace, asked of the kernel over sock_diag netlink.

Not /proc/<pid>/net/tcp: reading that walks every bucket of the host's TCP hash tables,
whatever the namespace holds, and a lab host watching hundreds of namespaces spent most
of its monitor's time there. A sock_diag dump asked for listening sockets walks only the
listening table, and only this namespace's sockets come back.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Callable

from . import netdump
from .containers import RESOLVER as LAB_DNS
from .errors import EngineError
from .nsock import netlink_in

NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
REQUEST = struct.Struct("BBBxI48x")  # inet_diag_req_v2: family, protocol, ext, states, any socket id
TCP_LISTEN, UDP_UNCONNECTED = 10, 7  # kernel socket states
INODE_OFFSET = 68  # in inet_diag_msg, after family..retrans (4), the socket id (48) and 4 counters
QUERIES = (("tcp", socket.IPPROTO_TCP, TCP_LISTEN), ("udp", socket.IPPROTO_UDP, UDP_UNCONNECTED))
SOURCE_OFFSET = 8  # the socket id's source address, after family..retrans (4) and the two ports
RESOLVER = socket.inet_aton(LAB_DNS)  # the lab DNS (live/resolver.py): the lab host's socket, not the node's


def diag_socket(pid: int) -> socket.socket:
    """A sock_diag netlink socket in the network namespace of process `pid`."""
    return netlink_in(f"/proc/{pid}/ns/net", NETLINK_SOCK_DIAG)


def listening_sockets(pid: int, sock: socket.socket | None = None) -> dict[str, tuple[str, int]]:
    """Listening sockets in the namespace of process `pid`: inode -> (protocol, port); empty
    when the namespace is gone. `sock`: a diag socket of that namespace to use."""
    try:
        own = sock is None
        sock = sock or diag_socket(pid)
    except OSError:
        return {}
    found: dict[str, tuple[str, int]] = {}
    try:
        for proto, number, state in QUERIES:
            for family in (socket.AF_INET, socket.AF_INET6):
                request = REQUEST.pack(family, number, 0, 1 << state)
                for msg in netdump.dump(sock, SOCK_DIAG_BY_FAMILY, request, "sockets"):
                    if family == socket.AF_INET and msg[SOURCE_OFFSET : SOURCE_OFFSET + 4] == RESOLVER:
                        continue
                    port = struct.unpack_from("!H", msg, 4)[0]
                    found[str(struct.unpack_from("I", msg, INODE_OFFSET)[0])] = (proto, port)
    except (OSError, EngineError):
        return found
    finally:
        if own:
            sock.close()
    return found


def listening_ports(pid: int, sock: socket.socket | None = None) -> set[tuple[str, int]]:
    """(protocol, port) pairs bound for listening in the namespace of process `pid`."""
    return set(listening_sockets(pid, sock).values())


def wait_listening(pid: int, ports: set[tuple[str, int]], timeout: float, alive: Callable[[], bool]) -> bool:
    """Wait until every port listens, the process is gone (`alive()` false), or time is up."""
    deadline = time.monotonic() + timeout
    try:
        sock = diag_socket(pid)
    except OSError:
        return False
    try:
        while time.monotonic() < deadline:
            if ports <= listening_ports(pid, sock):
                return True
            if not alive():
                return False
            time.sleep(0.02)
    finally:
        sock.close()
    return False
