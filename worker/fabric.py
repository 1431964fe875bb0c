"""The lab's fabric namespace (`wl-<lab>`): the home of its segments and switches."""

from __future__ import annotations

import os

from pyroute2 import netns

from .labels import fabric_namespace

__all__ = ["create", "exists", "fabric_namespace", "labs_with_fabric", "path_of", "remove"]

NETNS_DIR = "/var/run/netns"


def path_of(lab: str) -> str:
    return f"{NETNS_DIR}/{fabric_namespace(lab)}"


def exists(lab: str) -> bool:
    return os.path.exists(path_of(lab))


def create(lab: str) -> bool:
    if exists(lab):
        return False
    netns.create(fabric_namespace(lab))
    return True


def remove(lab: str) -> bool:
    if not exists(lab):
        return False
    netns.remove(fabric_namespace(lab))
    return True


def labs_with_fabric() -> set[str]:
    """Tags of every lab that has a fabric namespace on this host."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return set()
    return {name[3:] for name in names if name.startswith("wl-")}
