"""A packet's journey: a probe (ICMP echo, TCP SYN, UDP) sent from a node, seen at every interface
of the lab on this lab host, and told back as ordered hops with each rewrite and where it stopped.

How: before the probe leaves, a packet socket is opened in each of the lab's namespaces here (every
node's, and the fabric's, whose ports are the cables). The probe is an ordinary socket made inside
the node's namespace, so its kernel sends it as it would any program's. The probe is told apart from
other traffic by what no NAT rewrites: an ICMP echo's payload (a random token), a TCP SYN's
sequence number (its replies acknowledge it), a UDP datagram's payload; a reply to a UDP probe is the
reverse of the request at the same place (NAT rewrites both directions alike). A VXLAN packet's
inner frame is read too, so an overlay hop shows as encapsulated between its two hosts.

The frames are ordered by their kernel timestamps (one clock for all namespaces); a change of the
addresses or ports between two sightings of one direction is a rewrite, confirmed by the node's
connection tracking (the entry of the probe's connection, original and reply tuples). Where it
stopped: the probe socket's own outcome (connected, refused, unreachable, no answer), the ICMP error
and the node that sent it, an ARP question nobody answered, the rule that dropped it (nftables
tracing in each node meanwhile, `nftrace.py`), or the last place it was seen.
"""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import Any

from topology.names import lookup
from topology.spec import LabHostSpec

from .. import fabric, natview
from ..errors import EngineError
from ..live.processes import container_of, process_name, socket_processes
from ..nftrace import Tracing, Verdict, rule_text
from ..runtime import NAMESPACE_ROLES, ContainerInfo, Runtime
from .assembly import classify, hops, leg_of, outcome
from .capture import Sighting, fabric_cables, open_captures, read_captures
from .probe import MAX_TIMEOUT, PROTOCOLS, Probe, send_probe

SETTLE = 0.05  # after the probe's outcome, for the last frames to be seen


def trace(
    runtime: Runtime,
    spec: LabHostSpec,
    node: str,
    target: str,
    *,
    protocol: str,
    port: int = 0,
    timeout: float = 2.0,
    installation: str | None = None,
) -> dict[str, Any]:
    if protocol not in PROTOCOLS:
        raise EngineError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    listed = runtime.list_containers(spec.lab)
    infos = [i for i in listed if i.role in NAMESPACE_ROLES and i.status == "running" and i.pid]
    owners = {f"/proc/{i.pid}/ns/net": i.node for i in infos}
    origin = _origin(spec, node)
    origin_path = next((p for p, owner in owners.items() if owner == origin), None)
    if origin_path is None:
        raise EngineError(f"node {node} is not running here; deploy the lab first")
    address = _address(spec, origin, target)
    fabric_path = fabric.find(spec.lab, installation)
    cables: dict[str, str] = {}
    if fabric_path:
        owners[fabric_path] = ""
        with contextlib.suppress(OSError):
            cables = fabric_cables(fabric_path)
    probe = Probe(protocol, address, port)
    tracing = Tracing({i.pid: i.node for i in infos}, protocol)
    try:
        captures = open_captures(owners)
        try:
            started = time.time()
            send_probe(origin_path, probe, min(max(timeout, 0.1), MAX_TIMEOUT))
            time.sleep(SETTLE)
            seen, asked, answered = read_captures(captures, owners, cables)
        finally:
            for sock in captures.values():
                sock.close()
        drops = tracing.drops()
    finally:
        tracing.close()
    mine = classify(seen, probe)
    journey = hops(mine, started)
    _confirm(journey, infos, probe)
    seen_at = [s.node for s in mine if s.leg == "request" and s.node]
    stuck = seen_at[-1] if seen_at else origin  # where an unanswered ARP question would keep it
    ended = outcome(probe, mine, node, [a for a in asked if a.target not in answered and a.node == stuck])
    if ended["result"] == "reached" and probe.protocol != "icmp":
        _taken_by(ended, mine, infos, listed)
    elif ended["result"] in ("lost", "refused", "timeout"):
        dropped = _dropped_by(drops, probe, mine)
        if dropped is not None:
            _blame(ended, dropped, infos)
    return {
        "probe": {
            "from": node,
            "to": target,
            "address": address,
            "protocol": protocol,
            "port": port,
            "source": f"{probe.source[0]}:{probe.source[1]}" if protocol != "icmp" else probe.source[0],
        },
        "hops": journey,
        "outcome": ended,
        "seconds": round(time.time() - started, 3),
    }


def _origin(spec: LabHostSpec, node: str) -> str:
    """Whose namespace a node's probe leaves from: a host-mode container's is its host's."""
    app = next((a for a in spec.apps if a.name == node), None)
    if app is not None and app.mode == "host":
        return app.host
    if app is None and node not in {s.name for s in spec.sandboxes}:
        raise EngineError(f"the lab has no node {node} on this lab host")
    return node


def _address(spec: LabHostSpec, origin: str, target: str) -> str:
    try:
        return str(ipaddress.IPv4Address(target))
    except ValueError:
        found = lookup(spec.names, origin, target)
        if not found:
            raise EngineError(f"{origin} knows no name {target}") from None
        return found[0]


def _confirm(journey: list[dict[str, Any]], infos: list[ContainerInfo], probe: Probe) -> None:
    """Each rewrite as the node's connection tracking has it (original and reply tuples)."""
    pids = {i.node: i.pid for i in infos}
    read: dict[str, list[dict[str, Any]]] = {}
    for hop in journey:
        change = hop.get("rewrite")
        if not change:
            continue
        src, sport, dst, dport = change.pop("_original")
        at = change["at"]
        if at not in pids:
            continue
        if at not in read:
            try:
                read[at] = natview.connections(pids[at])
            except EngineError:
                read[at] = []
        for entry in read[at]:
            original = entry["original"]
            ends = (original.get("src"), original.get("dst"))
            ports = (original.get("sport"), original.get("dport"))
            if entry["protocol"] != probe.protocol or ends != (src, dst):
                continue
            if probe.protocol == "icmp" or ports == (str(sport), str(dport)):
                change["conntrack"] = {"original": original, "reply": entry["reply"]}
                break


def _taken_by(
    ended: dict[str, Any], mine: list[Sighting], infos: list[ContainerInfo], listed: list[ContainerInfo]
) -> None:
    """Name the program (and its container) that took the probe where it arrived."""
    arrived = next((s for s in reversed(mine) if s.leg == "request" and s.node == ended["at"]), None)
    pid = next((i.pid for i in infos if i.node == ended["at"]), 0)
    if arrived is None or not pid:
        return
    key = (arrived.packet.protocol, arrived.packet.dport)
    holder = socket_processes(pid, [key]).get(key)
    if holder is None:
        return
    container = container_of(holder, {i.id: i.node for i in listed})
    program = process_name(holder)
    where = f" in {container}" if container and container != ended["at"] else ""
    ended["reason"] = f"{program}{where} took it on port {key[1]}"
    ended["program"], ended["container"] = program, container


def _dropped_by(drops: list[Verdict], probe: Probe, mine: list[Sighting]) -> Verdict | None:
    """The first drop of one of the probe's packets (a reject's drop too)."""
    requests = {s.packet.tuple() for s in mine if s.leg == "request"}
    port = probe.source[1]
    for verdict in drops:
        packet = verdict.packet
        if packet.protocol != probe.protocol:
            continue
        if probe.protocol == "tcp":
            if leg_of(packet, probe):
                return verdict
        elif port in (packet.sport, packet.dport) or packet.tuple() in requests:
            return verdict
    return None


def _blame(ended: dict[str, Any], verdict: Verdict, infos: list[ContainerInfo]) -> None:
    pid = next((i.pid for i in infos if i.node == verdict.node), 0)
    text = rule_text(pid, verdict) if pid else ""
    table = f"{verdict.family} {verdict.table}"
    ended["rule"] = {"node": verdict.node, "table": table, "chain": verdict.chain, "rule": text}
    said = f"{verdict.family} {verdict.table} chain {verdict.chain}" + (f": {text}" if text else "")
    if ended["result"] == "refused":
        ended["reason"] = f"{verdict.node} refused it by a rule ({said})"
    else:
        ended.update(
            result="dropped", at=verdict.node, reason=f"dropped by a rule in {verdict.node} ({said})"
        )
