"""An exercise's checks, run against a live lab on this lab host.

Each check looks at one node of one lab, found by the lab's ownership tag, so it can never
look at another lab. Reach checks use sockets made inside the node's network namespace (no
tool in the node's image is needed, and what the node can reach is what the check sees);
routes, addresses, links and listening sockets are read from the kernel by netlink; commands
and files go through the container engine. Every check is bounded in time and output and
ends in a pass or a fail with a plain sentence.
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import os
import re
import socket
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from topology.spec import LabHostSpec

from . import netdump
from .errors import EngineError
from .frames import echo_request
from .journey.compare import parting, way_of
from .journey.tracing import trace
from .live.controls import cable_plugged, set_cable
from .nsock import netlink_in, socket_in
from .runtime import ContainerInfo, Runtime, node_container
from .sockets import listening_ports

ROUND_SECONDS = 60.0  # all the checks of one round together
WAIT_STEP = 1.0  # seconds between the tries of a check that waits
OUTPUT_LIMIT = 64 * 1024
BODY_LIMIT = 64 * 1024
ICMP_ECHO, ICMP_ECHO_REPLY = 8, 0


@dataclass
class CheckResult:
    index: int
    title: str
    passed: bool
    message: str
    node: str = ""
    weight: int = 1
    journey: list[list[str]] | None = None  # the way a passed probe took, when asked for

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        if self.journey is None:
            del found["journey"]
        return found


class Failed(Exception):
    """A check that did not pass, with the sentence saying why."""


class Answered(Failed):
    """A reach check's target answered, but not as the check wants (an HTTP error, a page
    without the text): the way there works, so there is no journey to explain."""


@dataclass(frozen=True)
class Probe:
    """What a reach check sends: from which node, to which address and port, how."""

    source: str
    address: str
    port: int | None
    kind: str  # ping, tcp or http


class Unreached(Failed):
    """A reach check's probe got no answer it wanted: tracing it can say where it stopped."""

    def __init__(self, message: str, probe: Probe):
        super().__init__(message)
        self.probe = probe


class RunningLab:
    """The running nodes of one lab, looked up once per round."""

    def __init__(self, spec: LabHostSpec, runtime: Runtime, installation: str | None = None):
        self.spec, self.runtime, self.installation = spec, runtime, installation
        self._containers: dict[str, ContainerInfo | None] = {}

    def forget(self) -> None:
        self._containers.clear()

    def trace(self, probe: Probe) -> dict[str, Any]:
        """The probe's journey through the lab ({} when it cannot be traced)."""
        try:
            return trace(
                self.runtime,
                self.spec,
                probe.source,
                probe.address,
                protocol="icmp" if probe.kind == "ping" else "tcp",
                port=probe.port or (80 if probe.kind == "http" else 0),
                installation=self.installation,
            )
        except (EngineError, OSError):
            return {}

    def journey(self, why: Unreached, reference: list[list[str]] | None = None) -> str:
        """Where a probe that got no answer stopped, as the packet journey traces it, and where
        its way parted from the `reference`'s ('' when it cannot be traced, or reached its
        target after all)."""
        found = self.trace(why.probe)
        ended = found.get("outcome", {})
        if not ended or ended.get("result") == "reached":
            return ""
        said = f"; traced, the probe stopped at {ended['at']}: {ended['reason']}"
        parted = parting(way_of(found), reference or [])
        return f"{said}; {parted}" if parted else said

    @contextlib.contextmanager
    def pulled(self, ends: list[str]) -> Iterator[None]:
        """The cables at these ends pulled while inside, each put back as it was after."""
        restore: list[tuple[str, bool]] = []
        try:
            for end in ends:
                cable = self.spec.cables.get(end)
                if cable is None:
                    raise Failed(f"{end} has no cable in the deployed lab")
                restore.append((cable, cable_plugged(self.spec.lab, cable, self.installation)))
                set_cable(self.spec.lab, cable, False, self.installation)
            yield
        finally:
            for cable, was in restore:
                with contextlib.suppress(EngineError, OSError):
                    set_cable(self.spec.lab, cable, was, self.installation)

    def container(self, node: str) -> ContainerInfo:
        if node not in self._containers:
            self._containers[node] = node_container(self.runtime, self.spec.lab, node)
        info = self._containers[node]
        if info is None:
            raise Failed(f"{node} is not deployed")
        if info.status != "running" or not info.pid:
            raise Failed(f"{node} is not running")
        return info

    def netns(self, node: str) -> str:
        return f"/proc/{self.container(node).pid}/ns/net"

    def address_of(self, node: str) -> str:
        """The first address of a node (a host-mode container: its host's)."""
        for sandbox in self.spec.sandboxes:
            if sandbox.name == node:
                return _first_address(node, [a for i in sandbox.interfaces for a in i.addresses])
        for app in self.spec.apps:
            if app.name == node:
                if app.mode == "host":
                    return self.address_of(app.host)
                return _first_address(node, [a for i in app.interfaces for a in i.addresses])
        raise Failed(f"there is no node {node} in the deployed lab")

    def port_variable(self, node: str, name: str) -> int:
        for app in self.spec.apps:
            if app.name == node and name in app.env:
                return int(app.env[name])
        raise Failed(f"{node} was given no {name}")


def _first_address(node: str, addresses: list[str]) -> str:
    for address in addresses:
        return address.split("/")[0]
    raise Failed(f"{node} has no address")


def run_checks(
    spec: LabHostSpec,
    checks: list[dict[str, Any]],
    runtime: Runtime,
    progress: Callable[[CheckResult], None] | None = None,
    budget: float = ROUND_SECONDS,
    *,
    installation: str | None = None,
) -> list[CheckResult]:
    """Run every check in turn; each result also goes to `progress` as it comes. A check with
    `wait` is tried again until it passes or that long has gone (within the round's budget)."""
    lab, deadline = RunningLab(spec, runtime, installation), time.monotonic() + budget
    results: list[CheckResult] = []
    for check in checks:
        node = check.get("from") or check.get("node") or check.get("host") or ""
        result = CheckResult(check["index"], check["title"], False, "", node, check.get("weight", 1))
        if results and time.monotonic() > deadline:  # the first always runs
            result.message = f"not run: the round's {budget:g} s were used up by the checks before it"
        else:
            give_up = min(time.monotonic() + float(check.get("wait", 0)), deadline)
            result.passed, result.message = _robust(lab, check, give_up)
            if result.passed and check.get("trace_passed"):
                result.journey = _way(lab, check)
        results.append(result)
        if progress:
            progress(result)
    return results


def _robust(lab: RunningLab, check: dict[str, Any], give_up: float) -> tuple[bool, str]:
    """The check, run with the cables it names pulled (a robustness check), put back after."""
    ends = check.get("pulled") or []
    if not ends:
        return _until_passed(lab, check, give_up)
    try:
        with lab.pulled(ends):
            passed, message = _until_passed(lab, check, give_up)
    except Failed as exc:
        return False, f"could not be checked: {exc}"
    except (EngineError, OSError) as exc:
        return False, f"could not be checked: the cables could not be pulled ({exc})"
    return passed, f"{message} (with {', '.join(ends)} pulled)"


def _until_passed(lab: RunningLab, check: dict[str, Any], give_up: float) -> tuple[bool, str]:
    while True:
        try:
            return True, RUNNERS[check["kind"]](lab, check)
        except Unreached as exc:
            failed: Failed | None = exc
            message = str(exc)
        except Failed as exc:
            failed, message = exc, str(exc)
        except EngineError as exc:
            failed, message = None, f"could not be checked: {exc}"
        if time.monotonic() + WAIT_STEP > give_up:
            break
        time.sleep(WAIT_STEP)
        lab.forget()  # a node restarted meanwhile is looked up again
    if isinstance(failed, Unreached):
        message += lab.journey(failed, check.get("reference"))
    return False, message


def _way(lab: RunningLab, check: dict[str, Any]) -> list[list[str]] | None:
    """The way a passed reach check's probe takes, traced (None when it cannot be)."""
    try:
        found = lab.trace(_probe(lab, check))
    except Failed:
        return None
    return way_of(found) or None


# Reaching a target ----------------------------------------------------------------------------


def _target(lab: RunningLab, to: str) -> tuple[str, int | None]:
    """ADDRESS or NODE, maybe with :PORT or (a node) :PORTn, the port it was handed."""
    host, _, port = to.partition(":")
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        address = lab.address_of(host)
    if port.startswith("PORT"):
        return address, lab.port_variable(host, port)
    return address, int(port) if port else None


def _probe(lab: RunningLab, check: dict[str, Any]) -> Probe:
    """The probe of a reach check (a published check is one, to its host's port)."""
    if check["kind"] == "published":
        kind = "http" if check.get("contains") is not None else "tcp"
        return Probe(check["from"], lab.address_of(check["host"]), check["port"], kind)
    address, port = _target(lab, check["to"])
    return Probe(check["from"], address, port, check["probe"])


def _reach(lab: RunningLab, check: dict[str, Any]) -> str:
    probe, expect = _probe(lab, check), check.get("expect", "success")
    source, address, port = probe.source, probe.address, probe.port
    where = f"{address}:{port}" if port else address
    netns = lab.netns(source)
    try:
        said = PROBES[probe.kind](netns, address, port, {"path": "/", **check})
    except Failed as exc:
        if expect == "failure":
            return f"{source} cannot reach {where} ({exc}), as it should not"
        message = f"{source} cannot reach {where}: {exc}"
        if isinstance(exc, Answered):
            raise Failed(message) from None
        raise Unreached(message, probe) from None
    if expect == "failure":
        raise Failed(f"{source} reaches {where} ({said}) but should not")
    return f"{source} reaches {where}: {said}"


def _connect(netns: str, address: str, port: int, timeout: float) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket_in(netns, family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((address, port))
    except TimeoutError:
        sock.close()
        raise Failed(f"no answer within {timeout:g} s") from None
    except OSError as exc:
        sock.close()
        raise Failed(_reason(exc)) from None
    return sock


def _reason(exc: OSError) -> str:
    known = {
        errno.ECONNREFUSED: "connection refused",
        errno.EHOSTUNREACH: "no route to host",
        errno.ENETUNREACH: "network is unreachable",
        errno.ETIMEDOUT: "timed out",
        errno.ECONNRESET: "connection reset",
    }
    return known.get(exc.errno or 0, exc.strerror or str(exc))


def _probe_tcp(netns: str, address: str, port: int | None, check: dict[str, Any]) -> str:
    if port is None:
        raise Failed("a TCP check needs a port")
    _connect(netns, address, port, check["timeout"]).close()
    return "TCP connection accepted"


def _probe_http(netns: str, address: str, port: int | None, check: dict[str, Any]) -> str:
    port = port or 80
    deadline = time.monotonic() + check["timeout"]
    sock = _connect(netns, address, port, check["timeout"])
    try:
        host = f"[{address}]" if ":" in address else address
        request = f"GET {check['path']} HTTP/1.0\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        answer = _read_until_closed(sock, deadline, BODY_LIMIT)
    finally:
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].decode(errors="replace")
    match = re.match(r"HTTP/\d(?:\.\d)? (\d{3})", status)
    if not match:
        raise Answered("the answer was not HTTP" if answer else "the connection closed without an answer")
    code = int(match[1])
    if code >= 400:
        raise Answered(f"HTTP {code}")
    wanted = check.get("contains")
    if wanted is not None and wanted not in body.decode(errors="replace"):
        raise Answered(f"HTTP {code}, but the page does not contain '{wanted}'")
    return f"HTTP {code}" + (f", the page contains '{wanted}'" if wanted else "")


def _read_until_closed(sock: socket.socket, deadline: float, limit: int) -> bytes:
    data = bytearray()
    while len(data) < limit:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Failed("the answer did not end in time")
        sock.settimeout(left)
        try:
            chunk = sock.recv(min(65536, limit - len(data)))
        except TimeoutError:
            raise Failed("the answer did not end in time") from None
        except OSError as exc:
            raise Failed(_reason(exc)) from None
        if not chunk:
            break
        data += chunk
    return bytes(data)


def _probe_ping(netns: str, address: str, port: int | None, check: dict[str, Any]) -> str:
    """ICMP echo from a raw socket in the namespace: three tries within the timeout."""
    if ":" in address:
        raise Failed("ping checks are IPv4 only")
    sock = socket_in(netns, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    timeout = check["timeout"]
    try:
        for seq in range(1, 4):
            started = time.monotonic()
            try:
                sock.sendto(_echo(ident, seq), (address, 0))
            except OSError as exc:
                raise Failed(_reason(exc)) from None
            answer = _await_echo(sock, address, ident, seq, started + timeout / 3)
            if answer == "reply":
                return f"ping answered in {(time.monotonic() - started) * 1000:.1f} ms"
            if answer:
                raise Failed(answer)
    finally:
        sock.close()
    raise Failed(f"no answer to ping within {timeout:g} s")


def _echo(ident: int, seq: int) -> bytes:
    return echo_request(ident, seq, b"wirelab-check".ljust(32, b"."))


UNREACHABLE = {0: "network is unreachable", 1: "host unreachable", 3: "port unreachable", 13: "prohibited"}


def _await_echo(sock: socket.socket, address: str, ident: int, seq: int, until: float) -> str:
    """ "reply", a reason the target is unreachable, or "" when nothing came in time."""
    while (left := until - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            packet, (sender, _) = sock.recvfrom(2048)
        except TimeoutError:
            return ""
        offset = (packet[0] & 0x0F) * 4
        kind, code = packet[offset], packet[offset + 1]
        if kind == ICMP_ECHO_REPLY and sender == address:
            got_ident, got_seq = struct.unpack_from("!HH", packet, offset + 4)
            if (got_ident, got_seq) == (ident, seq):
                return "reply"
        elif kind == 3 and len(packet) >= offset + 8 + 28:  # destination unreachable, with our echo inside
            inner = offset + 8 + (packet[offset + 8] & 0x0F) * 4
            if struct.unpack_from("!HH", packet, inner + 4) == (ident, seq):
                return f"{UNREACHABLE.get(code, 'unreachable')} (said {sender})"
    return ""


PROBES = {"ping": _probe_ping, "tcp": _probe_tcp, "http": _probe_http}


# What a node has ------------------------------------------------------------------------------


def _listening(lab: RunningLab, check: dict[str, Any]) -> str:
    node, proto = check["node"], check["protocol"]
    port = check["port"]
    if isinstance(port, str):
        port = lab.port_variable(node, port)
    pid = lab.container(node).pid
    found = (proto, port) in listening_ports(pid)
    if check["expect"] == "closed":
        if found:
            raise Failed(f"{node} listens on {proto} port {port} but should not")
        return f"nothing listens on {proto} port {port} of {node}"
    if not found:
        raise Failed(f"nothing listens on {proto} port {port} of {node}")
    return f"{node} listens on {proto} port {port}"


def _netlink(lab: RunningLab, node: str) -> socket.socket:
    return netlink_in(lab.netns(node))


def _route(lab: RunningLab, check: dict[str, Any]) -> str:
    node, to, via = check["node"], check["to"], check.get("via")
    with _netlink(lab, node) as sock:
        routes = netdump.routes(sock, None)
    key = "0.0.0.0/0" if to == "default" else to
    if key not in routes:
        have = ", ".join(sorted(r if r != "0.0.0.0/0" else "default" for r in routes)) or "none"
        raise Failed(f"{node} has no route to {to} (its routes: {have})")
    if via and routes[key] != via:
        raise Failed(f"{node}'s route to {to} goes via {routes[key] or 'no gateway'}, not {via}")
    return f"{node} has a route to {to}" + (f" via {via}" if via else "")


def _address(lab: RunningLab, check: dict[str, Any]) -> str:
    node, wanted, interface = check["node"], str(check.get("address") or ""), check.get("interface")
    subnet = ipaddress.ip_network(check["subnet"]) if check.get("subnet") else None
    with _netlink(lab, node) as sock:
        links, addresses = netdump.links(sock), netdump.addresses(sock)
    names = {link.index: name for name, link in links.items()}
    have = [
        (names.get(index, "?"), address)
        for index, found in addresses.items()
        for address in sorted(found)
        if interface in (None, names.get(index))
    ]
    for name, address in have:
        if subnet is not None:
            if ipaddress.ip_interface(address).ip in subnet:
                return f"{node} has {address} on {name}"
        elif address == wanted or ("/" not in wanted and address.split("/")[0] == wanted):
            return f"{node} has {address} on {name}"
    on = f" on {interface}" if interface else ""
    wanted = wanted or f"in {subnet}"
    listed = ", ".join(a for n, a in have if not a.startswith(("127.", "::1"))) or "none"
    raise Failed(f"{node} has no address {wanted}{on} (it has: {listed})")


def _link(lab: RunningLab, check: dict[str, Any]) -> str:
    node, interface, wanted = check["node"], check["interface"], check["state"]
    with _netlink(lab, node) as sock:
        link = netdump.links(sock).get(interface)
    if link is None:
        raise Failed(f"{node} has no interface {interface}")
    state = "up" if link.up and link.carrier else "down"
    if state != wanted:
        why = "" if state == "up" else (" (no carrier: its cable is pulled)" if link.up else " (set down)")
        raise Failed(f"{node}:{interface} is {state}{why}, not {wanted}")
    return f"{node}:{interface} is {state}"


def _command(lab: RunningLab, check: dict[str, Any]) -> str:
    node, run = check["node"], check["run"]
    command = ["/bin/sh", "-c", run] if isinstance(run, str) else list(run)
    code, output = lab.runtime.exec(
        lab.container(node).id, command, timeout=check["timeout"], limit=OUTPUT_LIMIT
    )
    last = _last_line(output)
    if code != check["exit_code"]:
        raise Failed(f"exit code {code}, not {check['exit_code']}" + (f": {last}" if last else ""))
    pattern = check.get("output")
    if pattern is not None and not re.search(pattern, output, re.MULTILINE):
        raise Failed(f"the output does not match /{pattern}/" + (f" (it ends: {last})" if last else ""))
    return f"exit code {code}" + (f", output matches /{pattern}/" if pattern else "")


def _file(lab: RunningLab, check: dict[str, Any]) -> str:
    node, path, pattern = check["node"], check["path"], check.get("matches")
    code, content = lab.runtime.exec(lab.container(node).id, ["cat", path], timeout=5, limit=OUTPUT_LIMIT)
    if code != 0:
        raise Failed(f"{node} has no file {path}" + (f": {_last_line(content)}" if content else ""))
    if pattern is not None and not re.search(pattern, content, re.MULTILINE):
        raise Failed(f"{path} on {node} does not match /{pattern}/")
    return f"{node} has {path}" + (f" matching /{pattern}/" if pattern else "")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


RUNNERS = {
    "reach": _reach,
    "published": _reach,
    "listening": _listening,
    "route": _route,
    "address": _address,
    "link": _link,
    "command": _command,
    "file": _file,
}
