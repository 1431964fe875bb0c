"""Controls on a running lab: pull or plug a cable, impair it, stop/start/restart a node.

A cable is the node interface's veth end in the fabric namespace: setting that end down
takes the carrier away from the node, as pulling a real cable would. Impairments are tc
qdiscs on the same end, so they shape what the node receives.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from .. import fabric
from ..errors import EngineError
from ..netdump import Link
from ..netlink import Namespace, Namespaces


def fabric_of(lab: str, installation: str | None) -> str:
    """The path of the lab's fabric namespace on this lab host (made by `installation`)."""
    path = fabric.find(lab, installation)
    if path is None:
        raise EngineError(f"lab {lab} is not running on this lab host")
    return path


def _fabric_link(ns: Namespaces, lab: str, cable: str, installation: str | None) -> tuple[Namespace, Link]:
    where = ns.at(fabric_of(lab, installation))
    found = where.links().get(cable)
    if found is None:
        raise EngineError(f"cable {cable} is not in lab {lab}")
    return where, found


def set_cable(lab: str, cable: str, plugged: bool, installation: str | None = None) -> None:
    """Plug or pull a cable, named by its end in the fabric (the spec's `cables`)."""
    ns = Namespaces()
    try:
        where, link = _fabric_link(ns, lab, cable, installation)
        where.ipr.link("set", index=link.index, state="up" if plugged else "down")
    finally:
        ns.close()


def cable_plugged(lab: str, cable: str, installation: str | None = None) -> bool:
    """Whether a cable is plugged (its fabric end up)."""
    ns = Namespaces()
    try:
        return _fabric_link(ns, lab, cable, installation)[1].up
    finally:
        ns.close()


@dataclass(frozen=True)
class Impairment:
    """What a cable does to the frames it delivers to its node."""

    delay_ms: float = 0
    jitter_ms: float = 0
    loss_pct: float = 0
    rate_kbit: int = 0

    @property
    def none(self) -> bool:
        return not (self.delay_ms or self.jitter_ms or self.loss_pct or self.rate_kbit)

    @property
    def needs_netem(self) -> bool:
        return bool(self.delay_ms or self.jitter_ms or self.loss_pct)

    def tc_commands(self, dev: str) -> list[str]:
        """tc batch lines: netem for delay, jitter and loss, tbf (under it) for the rate."""
        commands = [f"qdisc del dev {dev} root"]
        tbf = f"tbf rate {self.rate_kbit}kbit burst 32kbit latency 400ms"
        if self.needs_netem:
            netem = f"qdisc add dev {dev} root handle 1: netem limit 10000"
            if self.delay_ms or self.jitter_ms:
                netem += f" delay {self.delay_ms}ms" + (f" {self.jitter_ms}ms" if self.jitter_ms else "")
            if self.loss_pct:
                netem += f" loss {self.loss_pct}%"
            commands.append(netem)
            if self.rate_kbit:
                commands.append(f"qdisc add dev {dev} parent 1: handle 2: {tbf}")
        elif self.rate_kbit:
            commands.append(f"qdisc add dev {dev} root handle 1: {tbf}")
        return commands


def impair(lab: str, cable: str, impairment: Impairment, installation: str | None = None) -> None:
    """Set (or with an empty impairment, clear) the impairment of a node interface's cable.

    The tc command does this because pyroute2's netem has no rate and its tbf wants more
    hand-made parameters than the command's one line.
    """
    ns = Namespaces()
    try:
        where, link = _fabric_link(ns, lab, cable, installation)
    finally:
        ns.close()
    commands = impairment.tc_commands(link.name)
    # deleting a root qdisc that is not there fails: let the batch go on past it
    result = subprocess.run(
        ["ip", "netns", "exec", os.path.basename(where.path), "tc", "-force", "-batch", "-"],
        input="\n".join(commands) + "\n",
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    errors = [
        line
        for line in result.stderr.splitlines()
        if line.strip() and "Cannot delete qdisc" not in line and not line.startswith("Command failed -:1")
    ]
    if any("qdisc kind is unknown" in line for line in errors) and impairment.needs_netem:
        raise EngineError(
            "this lab host's kernel has no netem (CONFIG_NET_SCH_NETEM): delay, jitter and loss "
            "cannot be emulated here; a rate limit works"
        )
    if errors:
        raise EngineError(f"tc: {'; '.join(errors)}")
