"""The lab's fabric namespace (`wl-<lab>`, or `wl-<lab>.<part>` for a lab host's part of a lab
spanning several): the home of its segments, switches and the stitches between lab hosts.

Each is marked (its loopback's alias) with the engine that made it, so lab hosts sharing one
machine each find only their own.
"""

from __future__ import annotations

import os

from pyroute2 import IPRoute, netns

from .labels import fabric_namespace, installation_alias, parse_fabric_namespace
from .nsock import netlink_fd_in

__all__ = ["create", "fabric_namespace", "find", "installation_of", "labs_with_fabric", "owned", "remove"]

NETNS_DIR = "/var/run/netns"


def path_of(name: str) -> str:
    return f"{NETNS_DIR}/{name}"


def create(name: str, installation: str) -> bool:
    """Make a fabric namespace, its loopback marked with the installation's name; whether it made
    (or marked) one. One of this name without a mark was left by a converge stopped between the
    two steps (its name holds the lab's tag, which no other lab has): it is marked now, or it would
    be no one's to watch or remove. A file of the name that is not yet a namespace (a converge
    stopped while making it) is made one now."""
    _forget_unmounted(name)
    if not os.path.exists(path_of(name)):
        netns.create(name)
    elif installation_of(name):
        return False
    with IPRoute(fileno=netlink_fd_in(path_of(name))) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], ifalias=installation_alias(installation))
    return True


def installation_of(name: str) -> str:
    """The installation whose mark a fabric namespace carries ('' if none)."""
    try:
        with IPRoute(fileno=netlink_fd_in(path_of(name))) as ipr:
            alias = ipr.get_links(ipr.link_lookup(ifname="lo")[0])[0].get_attr("IFLA_IFALIAS") or ""
    except Exception:  # gone meanwhile, or not a namespace we can read: not ours to touch
        return ""
    prefix = installation_alias("")
    return alias[len(prefix) :] if alias.startswith(prefix) else ""


def remove(name: str) -> bool:
    if _forget_unmounted(name) or not os.path.exists(path_of(name)):
        return False
    netns.remove(name)
    return True


def _forget_unmounted(name: str) -> bool:
    """Remove the file of a namespace that was never mounted on it: whether there was one."""
    path = path_of(name)
    if not os.path.exists(path) or os.path.ismount(path):
        return False
    os.unlink(path)
    return True


def owned(installation: str | None = None, lab: str | None = None) -> dict[str, str]:
    """Every fabric namespace on this machine (of `lab`; made by `installation`, if given: its
    mark is read), by name, with its lab's tag."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return {}
    found = {name: tag for name in names if (tag := parse_fabric_namespace(name)) and lab in (None, tag)}
    if installation is None:
        return found
    return {name: tag for name, tag in found.items() if installation_of(name) == installation}


def find(lab: str, installation: str | None = None) -> str | None:
    """The path of the lab's fabric namespace that `installation` made here, if any."""
    names = sorted(owned(installation, lab))
    return path_of(names[0]) if names else None


def labs_with_fabric(installation: str | None = None) -> set[str]:
    """Tags of every lab that has a fabric namespace on this host (made by `installation`)."""
    return set(owned(installation).values())
