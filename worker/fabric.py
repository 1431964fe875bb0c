"""The lab's fabric namespace (`wl-<lab>`): the home of its segments and switches."""

from __future__ import annotations

import os

from pyroute2 import IPRoute, netns

from .labels import fabric_namespace, installation_alias
from .nsock import netlink_fd_in

__all__ = ["create", "exists", "fabric_namespace", "installation_of", "labs_with_fabric", "path_of", "remove"]

NETNS_DIR = "/var/run/netns"


def path_of(lab: str) -> str:
    return f"{NETNS_DIR}/{fabric_namespace(lab)}"


def exists(lab: str) -> bool:
    return os.path.exists(path_of(lab))


def create(lab: str, installation: str) -> bool:
    """Make the lab's fabric namespace, its loopback marked with the installation's name."""
    if exists(lab):
        return False
    netns.create(fabric_namespace(lab))
    with IPRoute(fileno=netlink_fd_in(path_of(lab))) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], ifalias=installation_alias(installation))
    return True


def installation_of(lab: str) -> str:
    """The installation whose mark the lab's fabric namespace carries ('' if none)."""
    try:
        with IPRoute(fileno=netlink_fd_in(path_of(lab))) as ipr:
            alias = ipr.get_links(ipr.link_lookup(ifname="lo")[0])[0].get_attr("IFLA_IFALIAS") or ""
    except Exception:  # gone meanwhile, or not a namespace we can read: not ours to touch
        return ""
    prefix = installation_alias("")
    return alias[len(prefix) :] if alias.startswith(prefix) else ""


def remove(lab: str) -> bool:
    if not exists(lab):
        return False
    netns.remove(fabric_namespace(lab))
    return True


def labs_with_fabric(installation: str | None = None) -> set[str]:
    """Tags of every lab that has a fabric namespace on this host (made by `installation`,
    if given: its namespace's mark is read)."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return set()
    tags = {name[3:] for name in names if name.startswith("wl-")}
    if installation is None:
        return tags
    return {tag for tag in tags if installation_of(tag) == installation}
