"""Ownership marks: the labels, names and aliases by which Wirelab knows what it made.

Teardown and garbage collection go by these only and never touch anything unmarked.
"""

import re

LAB = "wirelab.lab"
NODE = "wirelab.node"
ROLE = "wirelab.role"  # sandbox | app
SPEC = "wirelab.spec"  # hash of what the container was made from
SANDBOX_ID = "wirelab.sandbox"  # for host-mode apps: the sandbox whose netns they share
INSTALLATION = "wirelab.installation"  # the Wirelab installation (its database) that made it
POOL = "wirelab.pool"  # a warm sandbox made ahead of need: which pool it belongs to
POOL_PREFIX = "wlpool-"  # the name of a warm sandbox nobody has claimed yet
ROUTE_PROTO = 87  # routes the engine adds carry this rtnetlink protocol number


TAG = re.compile(r"^[0-9a-z]{4,16}$")


def valid_tag(tag: str) -> bool:
    """A lab tag as Wirelab makes them; anything else is never selected for removal."""
    return bool(TAG.match(tag or ""))


def container_name(lab: str, node: str) -> str:
    return f"wl-{lab}-{node}"


CONTAINER_NAME = re.compile(r"^wl-([0-9a-z]{4,16})-([^-].*)$")


def parse_container_name(name: str) -> tuple[str, str] | None:
    """(lab, node) from a node container's name (a claimed warm sandbox is known by it alone:
    Docker never changes labels, but renames it into the lab), else None."""
    found = CONTAINER_NAME.match(name.lstrip("/"))
    return (found[1], found[2]) if found else None


def fabric_namespace(lab: str, part: str = "") -> str:
    """The lab's fabric namespace here: `part` names a lab host's part of a lab spanning several
    (two lab hosts on one machine then hold two)."""
    return f"wl-{lab}.{part}" if part else f"wl-{lab}"


FABRIC_NAME = re.compile(r"^wl-([0-9a-z]{4,16})(\.[a-z0-9][a-z0-9_-]{0,99})?$")


def parse_fabric_namespace(name: str) -> str | None:
    """The lab's tag from a fabric namespace's name, else None."""
    found = FABRIC_NAME.match(name)
    return found[1] if found else None


def installation_alias(installation: str) -> str:
    """The alias of a fabric namespace's loopback: which installation made the namespace."""
    return f"wirelab-installation:{installation}"


def alias(lab: str) -> str:
    """The interface alias that marks an interface (veth end, bridge, tunnel) as the lab's.

    A bridge port adds a note after a space: the node interface at the cable's other end.
    """
    return f"wirelab:{lab}"


def parse_alias(text: str) -> tuple[str, str] | None:
    """(lab, note) from an interface alias Wirelab set, else None."""
    if not text.startswith("wirelab:"):
        return None
    tag, _, note = text[len("wirelab:") :].partition(" ")
    return tag, note
