"""Listening sockets of a namespace, read from /proc/<pid>/net as the kernel reports them."""

from __future__ import annotations

import time

LISTEN = "0A"
UDP_UNCONNECTED = "07"


def listening_sockets(pid: int) -> dict[str, tuple[str, int]]:
    """Listening sockets in the namespace of process `pid`: inode -> (protocol, port)."""
    found: dict[str, tuple[str, int]] = {}
    for proto, state in (("tcp", LISTEN), ("udp", UDP_UNCONNECTED)):
        for suffix in ("", "6"):
            try:
                with open(f"/proc/{pid}/net/{proto}{suffix}") as handle:
                    lines = handle.readlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 9 and fields[3] == state:
                    found[fields[9]] = (proto, int(fields[1].rsplit(":", 1)[1], 16))
    return found


def listening_ports(pid: int) -> set[tuple[str, int]]:
    """(protocol, port) pairs bound for listening in the namespace of process `pid`."""
    return set(listening_sockets(pid).values())


def wait_listening(pid: int, ports: set[tuple[str, int]], timeout: float, alive) -> bool:
    """Wait until every port listens, the process is gone (`alive()` false), or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ports <= listening_ports(pid):
            return True
        if not alive():
            return False
        time.sleep(0.02)
    return False
