"""The probe: an ICMP echo, a TCP SYN or a UDP datagram, sent by an ordinary socket made inside
the node's namespace, so that its kernel sends it as it would any program's."""

from __future__ import annotations

import errno
import secrets
import select
import socket
import struct
import time
from dataclasses import dataclass, field

from .. import nsock
from ..frames import echo_request

PROTOCOLS = ("icmp", "tcp", "udp")
MAX_TIMEOUT = 5.0


@dataclass
class Probe:
    protocol: str
    target: str
    port: int = 0
    token: bytes = field(default_factory=lambda: b"wirelab-trace-" + secrets.token_hex(8).encode())
    source: tuple[str, int] = ("", 0)
    isn: int | None = None  # a TCP probe's SYN sequence number, as first seen leaving the node
    outcome: str = ""  # reached | refused | unreachable | no-route | timeout
    error: str = ""


def send_probe(path: str, probe: Probe, timeout: float) -> None:
    """Send the probe from inside the namespace at `path` and wait for its outcome."""
    kind = {"icmp": socket.SOCK_RAW, "tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}[probe.protocol]
    proto = socket.IPPROTO_ICMP if probe.protocol == "icmp" else 0
    sock = nsock.socket_in(path, socket.AF_INET, kind, proto)
    try:
        sock.setblocking(False)
        if probe.protocol == "tcp":
            _tcp(sock, probe, timeout)
        elif probe.protocol == "udp":
            _udp(sock, probe, timeout)
        else:
            _icmp(sock, probe, timeout)
    finally:
        if probe.protocol == "tcp":  # a reset, not a lingering close: nothing is left half-open
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def _failed(probe: Probe, code: int) -> None:
    probe.error = errno.errorcode.get(code, str(code))
    probe.outcome = {
        errno.ECONNREFUSED: "refused",
        errno.ENETUNREACH: "no-route",
        errno.EHOSTUNREACH: "unreachable",
        errno.ETIMEDOUT: "timeout",
    }.get(code, "unreachable")


def _tcp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    code = sock.connect_ex((probe.target, probe.port))
    probe.source = sock.getsockname()
    if code not in (0, errno.EINPROGRESS):
        return _failed(probe, code)
    _, writable, _ = select.select([], [sock], [], timeout)
    if not writable:
        probe.outcome = "timeout"
        return None
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        return _failed(probe, code)
    probe.outcome = "reached"
    return None


def _udp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    sock.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR: ICMP errors reported on the socket
    code = sock.connect_ex((probe.target, probe.port))
    if code:
        return _failed(probe, code)
    probe.source = sock.getsockname()
    sock.send(probe.token)
    readable, _, _ = select.select([sock], [], [], timeout)
    if not readable:
        probe.outcome = "timeout"  # UDP: no answer may also mean it arrived and nothing replied
        return None
    try:
        sock.recv(2048)
        probe.outcome = "reached"
    except OSError as exc:
        _failed(probe, exc.errno or 0)
    return None


def _icmp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    ident = secrets.randbelow(0xFFFF) + 1
    try:
        sock.sendto(echo_request(ident, 1, probe.token), (probe.target, 0))
    except OSError as exc:
        return _failed(probe, exc.errno or 0)
    probe.source = (sock.getsockname()[0], ident)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            break
        data = sock.recv(2048)
        header = (data[0] & 0x0F) * 4
        kind = data[header]
        if probe.token not in data[header:]:
            continue  # another program's ICMP
        if kind == 0:
            probe.outcome = "reached"
        else:
            code = data[header + 1]
            probe.outcome = "no-route" if (kind, code) == (3, 0) else "unreachable"
            probe.error = f"ICMP type {kind} code {code}"
        return None
    probe.outcome = "timeout"
    return None
