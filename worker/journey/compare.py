"""A journey beside a reference's: the way a probe took, as the hops its request was seen at
in the lab's nodes, and the first place where a student's way parts from the solution's."""

from __future__ import annotations

from typing import Any

Step = tuple[str, str, str]  # node, interface, "in" or "out"


def way_of(journey: dict[str, Any]) -> list[list[str]]:
    """The steps of a traced probe's request through the lab's nodes (the fabric between
    them has names of its own lab, so it is left out: only what two copies of a lab share)."""
    return [
        [hop["node"], hop["iface"], hop["direction"]]
        for hop in journey.get("hops", [])
        if hop.get("leg") == "request" and hop.get("node")
    ]


def parting(mine: list[list[str]], reference: list[list[str]]) -> str:
    """Where `mine` leaves the reference's way, as a sentence ('' when there is nothing to say:
    no reference, or the probe went further than the reference did)."""
    if not reference:
        return ""
    ours, theirs = [tuple(s) for s in mine], [tuple(s) for s in reference]
    same = 0
    while same < min(len(ours), len(theirs)) and ours[same] == theirs[same]:
        same += 1
    if same == len(theirs):
        if same == len(ours) and ours:
            return f"the reference's probe takes this same way to {theirs[-1][0]}: what differs is there"
        return ""
    sentence = f"the reference {_step(theirs[same])}"
    if same < len(ours):
        sentence += f", yours {_step(ours[same])}"
    return sentence


def _step(step: tuple[str, ...]) -> str:
    node, iface, direction = step
    return (
        f"leaves {node} through {iface}" if direction == "out" else f"goes on to {node} (in through {iface})"
    )
