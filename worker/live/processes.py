"""Which process holds a listening socket: socket inodes matched against /proc/<pid>/fd."""

from __future__ import annotations

import os

from ..sockets import listening_sockets


def socket_owners(pid: int, ports: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Process names for the listening (protocol, port) pairs in `pid`'s namespace."""
    wanted = set(ports)
    inodes = {inode: key for inode, key in listening_sockets(pid).items() if key in wanted}
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
