"""Telling the probe's packets apart from other traffic, ordering them into hops with each rewrite,
and saying where the probe stopped: plain data in, plain data out (no kernel)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..frames import Packet
from .capture import Asked, Sighting
from .probe import Probe


def classify(sightings: list[Sighting], probe: Probe) -> list[Sighting]:
    """The sightings of the probe, each with its leg, in the order they happened."""
    if probe.protocol == "tcp":
        probe.isn = _tcp_isn(sightings, probe)
    requests: set[tuple[Any, ...]] = set()
    mine = []
    for s in sorted(sightings, key=lambda s: (s.at, s.order)):
        packet = s.packet
        leg = leg_of(packet, probe)
        if leg == "request":
            requests.add(packet.tuple())
        elif not leg and packet.protocol == probe.protocol and _reversed(packet.tuple()) in requests:
            leg = "reply"
        if leg:
            s.leg = leg
            mine.append(s)
    return mine


def _reversed(four: tuple[Any, ...]) -> tuple[Any, ...]:
    src, sport, dst, dport = four
    return dst, dport, src, sport


def _tcp_isn(sightings: list[Sighting], probe: Probe) -> int | None:
    src, port = probe.source
    for s in sightings:
        p = s.packet
        if p.protocol == "tcp" and p.flags == "S" and p.sport == port and p.src == src and not p.tunnel:
            return p.seq
    return None


def leg_of(packet: Packet, probe: Probe) -> str:
    isn = probe.isn
    if packet.icmp and packet.quoted is not None:
        return "error" if _is_request(packet.quoted, probe) else ""
    if _is_request(packet, probe):
        return "request"
    if probe.protocol == "icmp" and packet.icmp == (0, 0) and packet.payload == probe.token:
        return "reply"
    answers = ("S" in packet.flags and "A" in packet.flags) or "R" in packet.flags
    if probe.protocol == "tcp" and isn is not None and packet.protocol == "tcp" and answers:
        return "reply" if packet.ack == (isn + 1) & 0xFFFFFFFF else ""
    return ""


def _is_request(packet: Packet, probe: Probe) -> bool:
    if packet.protocol != probe.protocol:
        return False
    if probe.protocol == "tcp":
        return probe.isn is not None and packet.seq == probe.isn and "S" in packet.flags
    if probe.protocol == "udp":
        return packet.payload.startswith(probe.token[:8]) and probe.token in packet.payload
    return packet.icmp is not None and packet.icmp[0] == 8 and probe.token in packet.payload


def hops(mine: list[Sighting], started: float) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    last: dict[str, Sighting] = {}
    for s in mine:
        hop = {
            "leg": s.leg,
            "node": s.node,
            "iface": s.iface,
            "cable": s.cable,
            "direction": "out" if s.outgoing else "in",
            "packet": s.packet.shown(),
            "ms": round(max(0.0, s.at - started) * 1000, 3),
        }
        if s.packet.tunnel:
            hop["tunnel"] = s.packet.tunnel
        previous = last.get(s.leg)
        if previous is not None and (change := _rewrite(previous.packet, s.packet, s.leg)):
            change["at"] = s.node or previous.node
            # the connection as conntrack keys it: the request before, or the reply after, reversed
            keyed = previous.packet.tuple() if s.leg == "request" else _reversed(s.packet.tuple())
            change["_original"] = keyed
            hop["rewrite"] = change
        last[s.leg] = s
        out.append(hop)
    return out


def _rewrite(before: Packet, after: Packet, leg: str) -> dict[str, Any] | None:
    if before.protocol != after.protocol:
        return None
    was, now = before.tuple(), after.tuple()
    if was == now:
        return None
    source_changed = was[:2] != now[:2]
    kind = "SNAT" if source_changed else "DNAT"
    if leg == "reply":
        kind = "un-DNAT" if source_changed else "un-SNAT"  # conntrack undoing the request's rewrite
    pair = 0 if source_changed else 2

    def shown(ends: tuple[str, int, str, int]) -> str:
        address, port = ends[pair], ends[pair + 1]
        return str(address) if before.protocol == "icmp" else f"{address}:{port}"

    return {"kind": kind, "from": shown(was), "to": shown(now)}


def outcome(
    probe: Probe, mine: list[Sighting], origin: str, unanswered: Sequence[Asked] = ()
) -> dict[str, Any]:
    """Where and why the journey ended (`unanswered`: ARP questions nobody answered), as
    {result: reached | refused | unreachable | no-route | lost | timeout, at, reason}."""
    requests = [s for s in mine if s.leg == "request"]
    arrived = [s.node for s in requests if s.node and not s.outgoing]
    where = arrived[-1] if arrived else origin
    errors = [s for s in mine if s.leg == "error"]
    if errors:
        first = errors[0]
        result = probe.outcome if probe.outcome not in ("", "timeout") else "unreachable"
        return _ended(
            result, first.node or origin, f"{first.packet.src} answered {first.packet.shown()['icmp']}"
        )
    if probe.outcome == "reached":
        return _ended("reached", where, f"{where} answered")
    if probe.outcome == "refused":
        replies = [s for s in mine if s.leg == "reply" and s.node]
        by = replies[0].node if replies else where
        return _ended("refused", by, f"{by} refused it: nothing takes {probe.protocol} {probe.port}")
    return _unanswered(probe, requests, origin, where, unanswered)


def _unanswered(
    probe: Probe, requests: list[Sighting], origin: str, where: str, unanswered: Sequence[Asked]
) -> dict[str, Any]:
    if unanswered:
        ask = unanswered[-1]
        return _ended(
            "unreachable", ask.node, f"nobody answered {ask.node}'s ARP for {ask.target} on {ask.iface}"
        )
    if not requests:
        reason = f"{origin} has no route to {probe.target}" if probe.outcome == "no-route" else ""
        return _ended(probe.outcome or "timeout", origin, reason or probe.error or "never sent")
    if probe.outcome in ("", "timeout"):
        last = requests[-1]
        place = f"{last.node}:{last.iface}" if last.node else f"cable {last.cable}"
        return _ended("lost", last.node or last.cable, f"last seen at {place}, then no answer")
    return _ended(probe.outcome, where, probe.error)


def _ended(result: str, at: str, reason: str) -> dict[str, Any]:
    return {"result": result, "at": at, "reason": reason}
