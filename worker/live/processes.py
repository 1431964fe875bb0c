"""Which process holds a listening socket: socket inodes matched against /proc/<pid>/fd."""

from __future__ import annotations

import itertools
import os

from ..sockets import listening_sockets

MAX_DESCRIPTORS = 50_000  # read per lookup, over every process of the namespace


def socket_owners(pid: int, ports: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
    """Process names for the listening (protocol, port) pairs in `pid`'s namespace."""
    return {key: process_name(holder) for key, holder in socket_processes(pid, ports).items()}


def socket_processes(
    pid: int, ports: list[tuple[str, int]], most: int = MAX_DESCRIPTORS
) -> dict[tuple[str, int], int]:
    """The process holding each listening (protocol, port) pair in `pid`'s namespace, looking
    at `most` descriptors at most (past them, the rest stay unnamed)."""
    wanted = set(ports)
    inodes = {inode: key for inode, key in listening_sockets(pid).items() if key in wanted}
    if not inodes:
        return {}
    try:
        netns = os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return {}
    holders: dict[tuple[str, int], int] = {}
    left = most
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino != netns:
                continue
            with os.scandir(f"/proc/{entry}/fd") as descriptors:
                for fd in itertools.islice(descriptors, left):
                    left -= 1
                    target = os.readlink(fd.path)
                    inode = target[8:-1] if target.startswith("socket:[") else None
                    if inode in inodes:
                        holders[inodes[inode]] = int(entry)
        except OSError:
            continue
        if left <= 0 or len(holders) == len(inodes):
            break
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
