"""Which process holds a listening socket: socket inodes matched against /proc/<pid>/fd."""

from __future__ import annotations

import os

from ..sockets import listening_sockets


def socket_owners(pid: int, ports: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Process names for the listening (protocol, port) pairs in `pid`'s namespace."""
    return {key: process_name(holder) for key, holder in socket_processes(pid, ports).items()}


def socket_processes(pid: int, ports: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """The process holding each listening (protocol, port) pair in `pid`'s namespace."""
    wanted = set(ports)
    inodes = {inode: key for inode, key in listening_sockets(pid).items() if key in wanted}
    if not inodes:
        return {}
    try:
        netns = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return {}
    holders: dict[tuple[str, int], int] = {}
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
                    holders[inodes[inode]] = int(entry)
        except OSError:
            continue
    return holders


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def container_of(pid: int, names: dict[str, str]) -> str:
    """Which of the containers (id -> name) process `pid` runs in, by its cgroup; "" if none."""
    try:
        with open(f"/proc/{pid}/cgroup") as handle:
            groups = handle.read()
    except OSError:
        return ""
    return next((name for container_id, name in names.items() if container_id in groups), "")
