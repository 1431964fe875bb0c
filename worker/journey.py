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
import ctypes
import errno
import ipaddress
import secrets
import select
import socket
import struct
import time
from dataclasses import dataclass, field

from topology.names import lookup
from topology.spec import LabHostSpec

from . import fabric, natview, netdump, nsock
from .errors import EngineError
from .frames import Packet, echo_request, read_arp, read_frame
from .labels import parse_alias
from .live.processes import container_of, process_name, socket_processes
from .nftrace import Tracing, Verdict, rule_text
from .runtime import NAMESPACE_ROLES, Runtime

PROTOCOLS = ("icmp", "tcp", "udp")
MAX_TIMEOUT = 5.0
SNAP = 1024  # bytes kept of each frame: the headers, and a VXLAN packet's inner ones
MAX_FRAMES = 5000  # read of each namespace: a busy lab does not make a trace read forever
SETTLE = 0.05  # after the probe's outcome, for the last frames to be seen
SO_TIMESTAMPNS = SCM_TIMESTAMPNS = 35
SO_ATTACH_FILTER = 26
PACKET_OUTGOING = 4
ETH_P_ALL = 0x0003
ETH_P_ARP = b"\x08\x06"  # the ethertype of an ARP frame, as it stands in the frame


@dataclass
class Probe:
    protocol: str
    target: str
    port: int = 0
    token: bytes = field(default_factory=lambda: b"wirelab-trace-" + secrets.token_hex(8).encode())
    source: tuple[str, int] = ("", 0)
    isn: int | None = None  # a TCP probe's SYN sequence number, as first seen leaving the node
    outcome: str = ""  # reached | refused | unreachable | no-route | timeout
    error: str = ""


@dataclass
class Sighting:
    at: float  # seconds, the kernel's timestamp
    order: int
    node: str  # "" in the fabric
    iface: str
    cable: str  # the fabric port's cable, "node:iface"
    outgoing: bool
    packet: Packet
    leg: str = ""  # request | reply | error


# Capturing -------------------------------------------------------------------------------


def _ip_and_arp() -> bytes:
    """A classic BPF program (five instructions, written out: the kernel takes only bytecode)
    keeping IPv4 and ARP frames, cut to SNAP bytes."""
    code = [(0x28, 0, 0, 12), (0x15, 1, 0, 0x0800), (0x15, 0, 1, 0x0806), (0x06, 0, 0, SNAP), (0x06, 0, 0, 0)]
    return b"".join(struct.pack("HBBI", *op) for op in code)


_CODE = _ip_and_arp()
_FILTER = ctypes.create_string_buffer(_CODE, len(_CODE))
_PROGRAM = struct.pack("HL", len(_CODE) // 8, ctypes.addressof(_FILTER))


def open_captures(paths: dict[str, str]) -> dict[str, socket.socket]:
    """A packet socket in each namespace (path -> owner node, "" for the fabric); those that could
    not be made (a namespace gone meanwhile) are left out."""
    made = nsock.sockets_in(list(paths), socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    out = {}
    for path, sock in made.items():
        if isinstance(sock, BaseException):
            continue
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _PROGRAM)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        sock.setblocking(False)
        out[path] = sock
    return out


@dataclass
class Asked:
    """An ARP question a node asked: for `target`, on `iface`."""

    node: str
    iface: str
    target: str


def read_captures(
    sockets: dict[str, socket.socket], owners: dict[str, str], cables: dict[str, str]
) -> tuple[list[Sighting], list[Asked], set[str]]:
    """The IPv4 frames seen, the ARP questions nodes asked, and the addresses that answered one."""
    found: list[Sighting] = []
    asked: list[Asked] = []
    answered: set[str] = set()
    order = 0
    for path, sock in sockets.items():
        for _ in range(MAX_FRAMES):
            try:
                frame, ancillary, _, address = sock.recvmsg(SNAP, socket.CMSG_SPACE(16))
            except (BlockingIOError, InterruptedError):
                break
            ifname, pkttype = address[0], address[2]
            if ifname == "lo" and pkttype == PACKET_OUTGOING:
                continue  # seen again coming in
            if frame[12:14] == ETH_P_ARP:
                arp = read_arp(frame)
                if arp and arp[0] == 1 and owners[path] and pkttype == PACKET_OUTGOING:
                    asked.append(Asked(owners[path], ifname, arp[2]))
                elif arp and arp[0] == 2:
                    answered.add(arp[1])
                continue
            packet = read_frame(frame)
            if packet is None:
                continue
            order += 1
            owner = owners[path]
            found.append(
                Sighting(
                    at=_stamp(ancillary),
                    order=order,
                    node=owner,
                    iface=ifname,
                    cable="" if owner else cables.get(ifname, ""),
                    outgoing=pkttype == PACKET_OUTGOING,
                    packet=packet,
                )
            )
    return found, asked, answered


def _stamp(ancillary) -> float:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(data) >= 16:
            seconds, nanos = struct.unpack("qq", data[:16])
            return seconds + nanos / 1e9
    return time.time()


def fabric_cables(path: str) -> dict[str, str]:
    """The fabric's port names -> the cable each is the end of."""
    reader = nsock.netlink_in(path, 0)
    try:
        links = netdump.links(reader)
    finally:
        reader.close()
    out = {}
    for name, link in links.items():
        owned = parse_alias(link.alias)
        if owned and owned[1]:
            out[name] = owned[1]
    return out


# The probe -------------------------------------------------------------------------------


def send_probe(path: str, probe: Probe, timeout: float) -> None:
    """Send the probe from inside the namespace at `path` and wait for its outcome."""
    kind = {"icmp": socket.SOCK_RAW, "tcp": socket.SOCK_STREAM, "udp": socket.SOCK_DGRAM}[probe.protocol]
    proto = socket.IPPROTO_ICMP if probe.protocol == "icmp" else 0
    sock = nsock.socket_in(path, socket.AF_INET, kind, proto)
    try:
        sock.setblocking(False)
        if probe.protocol == "tcp":
            _tcp(sock, probe, timeout)
        elif probe.protocol == "udp":
            _udp(sock, probe, timeout)
        else:
            _icmp(sock, probe, timeout)
    finally:
        if probe.protocol == "tcp":  # a reset, not a lingering close: nothing is left half-open
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def _failed(probe: Probe, code: int) -> None:
    probe.error = errno.errorcode.get(code, str(code))
    probe.outcome = {
        errno.ECONNREFUSED: "refused",
        errno.ENETUNREACH: "no-route",
        errno.EHOSTUNREACH: "unreachable",
        errno.ETIMEDOUT: "timeout",
    }.get(code, "unreachable")


def _tcp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    code = sock.connect_ex((probe.target, probe.port))
    probe.source = sock.getsockname()
    if code not in (0, errno.EINPROGRESS):
        return _failed(probe, code)
    _, writable, _ = select.select([], [sock], [], timeout)
    if not writable:
        probe.outcome = "timeout"
        return None
    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        return _failed(probe, code)
    probe.outcome = "reached"
    return None


def _udp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    sock.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR: ICMP errors reported on the socket
    code = sock.connect_ex((probe.target, probe.port))
    if code:
        return _failed(probe, code)
    probe.source = sock.getsockname()
    sock.send(probe.token)
    readable, _, _ = select.select([sock], [], [], timeout)
    if not readable:
        probe.outcome = "timeout"  # UDP: no answer may also mean it arrived and nothing replied
        return None
    try:
        sock.recv(2048)
        probe.outcome = "reached"
    except OSError as exc:
        _failed(probe, exc.errno or 0)
    return None


def _icmp(sock: socket.socket, probe: Probe, timeout: float) -> None:
    ident = secrets.randbelow(0xFFFF) + 1
    try:
        sock.sendto(echo_request(ident, 1, probe.token), (probe.target, 0))
    except OSError as exc:
        return _failed(probe, exc.errno or 0)
    probe.source = (sock.getsockname()[0], ident)
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([sock], [], [], left)
        if not readable:
            break
        data = sock.recv(2048)
        header = (data[0] & 0x0F) * 4
        kind = data[header]
        if probe.token not in data[header:]:
            continue  # another program's ICMP
        if kind == 0:
            probe.outcome = "reached"
        else:
            code = data[header + 1]
            probe.outcome = "no-route" if (kind, code) == (3, 0) else "unreachable"
            probe.error = f"ICMP type {kind} code {code}"
        return None
    probe.outcome = "timeout"
    return None


# Telling the probe's packets apart, and the hops ---------------------------------------------


def classify(sightings: list[Sighting], probe: Probe) -> list[Sighting]:
    """The sightings of the probe, each with its leg, in the order they happened."""
    if probe.protocol == "tcp":
        probe.isn = _tcp_isn(sightings, probe)
    requests: set[tuple] = set()
    mine = []
    for s in sorted(sightings, key=lambda s: (s.at, s.order)):
        packet = s.packet
        leg = _leg(packet, probe)
        if leg == "request":
            requests.add(packet.tuple())
        elif not leg and packet.protocol == probe.protocol and _reversed(packet.tuple()) in requests:
            leg = "reply"
        if leg:
            s.leg = leg
            mine.append(s)
    return mine


def _reversed(four: tuple) -> tuple:
    src, sport, dst, dport = four
    return dst, dport, src, sport


def _tcp_isn(sightings: list[Sighting], probe: Probe) -> int | None:
    src, port = probe.source
    for s in sightings:
        p = s.packet
        if p.protocol == "tcp" and p.flags == "S" and p.sport == port and p.src == src and not p.tunnel:
            return p.seq
    return None


def _leg(packet: Packet, probe: Probe) -> str:
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


def hops(mine: list[Sighting], started: float) -> list[dict]:
    out: list[dict] = []
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


def _rewrite(before: Packet, after: Packet, leg: str) -> dict | None:
    if before.protocol != after.protocol:
        return None
    was, now = before.tuple(), after.tuple()
    if was == now:
        return None
    source_changed = was[:2] != now[:2]
    kind = "SNAT" if source_changed else "DNAT"
    if leg == "reply":
        kind = "un-DNAT" if source_changed else "un-SNAT"  # conntrack undoing the request's rewrite
    side = slice(0, 2) if source_changed else slice(2, 4)
    shown = (lambda a, p: a) if before.protocol == "icmp" else (lambda a, p: f"{a}:{p}")
    return {"kind": kind, "from": shown(*was[side]), "to": shown(*now[side])}


def outcome(probe: Probe, mine: list[Sighting], origin: str, unanswered: list[Asked] = ()) -> dict:
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


def _unanswered(probe: Probe, requests: list[Sighting], origin: str, where: str, unanswered) -> dict:
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


def _ended(result: str, at: str, reason: str) -> dict:
    return {"result": result, "at": at, "reason": reason}


# The whole trace ------------------------------------------------------------------------


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
) -> dict:
    if protocol not in PROTOCOLS:
        raise EngineError(f"protocol must be one of {', '.join(PROTOCOLS)}")
    listed = runtime.list(spec.lab)
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


def _confirm(journey: list[dict], infos, probe: Probe) -> None:
    """Each rewrite as the node's connection tracking has it (original and reply tuples)."""
    pids = {i.node: i.pid for i in infos}
    read: dict[str, list[dict]] = {}
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


def _taken_by(ended: dict, mine: list[Sighting], infos, listed) -> None:
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
            if _leg(packet, probe):
                return verdict
        elif port in (packet.sport, packet.dport) or packet.tuple() in requests:
            return verdict
    return None


def _blame(ended: dict, verdict: Verdict, infos) -> None:
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
