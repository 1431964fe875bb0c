"""Which process holds a listening socket: socket inodes matched against /proc/<pid>/fd."""

from __future__ import annotations

import os


def _inodes(pid: int, wanted: set[tuple[str, int]]) -> dict[str, tuple[str, int]]:
    out = {}
    for proto, state in (("tcp", "0A"), ("udp", "07")):
        for suffix in ("", "6"):
            try:
                with open(f"/proc/{pid}/net/{proto}{suffix}") as handle:
                    rows = handle.readlines()[1:]
            except OSError:
                continue
            for row in rows:
                fields = row.split()
                port = int(fields[1].rsplit(":", 1)[1], 16)
                if fields[3] == state and (proto, port) in wanted:
                    out[fields[9]] = (proto, port)
    return out


def socket_owners(pid: int, ports: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Process names for the listening (protocol, port) pairs in `pid`'s namespace."""
    inodes = _inodes(pid, set(ports))
    if not inodes:
        return {}
    try:
        netns = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return {}
    owners: dict[tuple[str, int], str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino != netns:
                continue
            for fd in os.listdir(f"/proc/{entry}/fd"):
                target = os.readlink(f"/proc/{entry}/fd/{fd}")
                inode = target[8:-1] if target.startswith("socket:[") else None
                if inode in inodes:
                    with open(f"/proc/{entry}/comm") as handle:
                        owners[inodes[inode]] = handle.read().strip()
        except OSError:
            continue
    return owners
