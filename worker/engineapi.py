"""A lab's own APIs, served by the lab host inside its nodes: the Docker Engine API in every
emulated Docker host, a unix socket at the node's own `/var/run/docker.sock` (bound through
`/proc/PID/root`, so only what runs in that node's filesystem reaches it), speaking HTTP as
dockerd does, so the real `docker` CLI typed in the node's console works unchanged; and the
orchestrator's REST API at http://marathon:8080 in every node namespace of a lab that has one
(a TCP socket made in the namespace, reached from its own processes only: `TcpDoor`).

This module is the transport: sockets, HTTP/1.1, keep-alive, streams and hijacked connections
(`exec`, `attach`). What a call means is the `Backend`'s: it answers a call itself (`Reply`), or
hands it on to the lab host's engine (`Pass`), which this module then relays byte for byte,
reading nothing of it but the status line and headers.

Bounded like a console: connections per node, calls a second per node, bytes of a request body,
bytes and lifetime of a relayed stream.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from . import nsock
from .nat import local_redirect, nft
from .wakeable import WakeableSelector

log = logging.getLogger(__name__)
SOCKET = "var/run/docker.sock"  # inside the node's root
API_VERSION = "1.41"  # what dockerd 20.10 speaks; the CLI negotiates down to it
MIN_API_VERSION = "1.12"
CONNECTIONS_PER_NODE = 16
CALLS_PER_SECOND = 20  # per node; beyond it a call waits for the next second
MAX_BODY = 256 * 1024
MAX_STREAM_BYTES = 64 * 1024 * 1024  # one relayed stream (logs -f, exec, attach)
MAX_STREAM_SECONDS = 4 * 3600
STREAM_RATE = 2 * 1024 * 1024  # bytes a second a relayed stream may carry
VERSIONED = re.compile(r"^/v(\d+\.\d+)(/.*)$")
DOCKER_HEADERS = {"Api-Version": API_VERSION, "Docker-Experimental": "false", "Ostype": "linux"}


@dataclass
class Call:
    """One HTTP call made inside node `node` of lab `lab`."""

    lab: str
    node: str
    method: str
    path: str  # without the /vX.Y prefix
    query: dict[str, list[str]]
    body: Any  # the JSON body, None when there is none
    raw_path: str = ""  # as the client sent it, with its query

    def arg(self, name: str, default: str = "") -> str:
        return self.query.get(name, [default])[-1]

    @property
    def query_string(self) -> str:
        """The query as it came, with its `?` (empty when there is none)."""
        query = urlsplit(self.raw_path).query
        return f"?{query}" if query else ""

    def flag(self, name: str) -> bool:
        return self.arg(name).lower() in ("1", "true", "yes")


@dataclass
class Reply:
    """An answer made here: JSON (or text when `body` is a str), or no body at all."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Pass:
    """Hand the call on to the lab host's engine as `method path`, and relay its answer."""

    method: str
    path: str  # with its query
    body: bytes = b""
    rewrite: Callable[[Any], Any] | None = None  # for a JSON answer: changes it before it is sent
    opened: Callable[[Any], None] | None = None  # given the engine's JSON answer (an exec's id)
    done: Callable[[], None] | None = None  # called once the answer was relayed whole
    upgraded: bool = False  # the client asked for a hijacked stream: the engine's plain answer is sent as one


class Backend(Protocol):
    headers: dict[str, str]  # sent with every answer
    server: str  # the Server header

    def serves(self, lab: str, node: str) -> bool:
        """Whether this node gets a socket (plays a Docker host, is in a lab with an orchestrator)."""
        ...

    def handle(self, call: Call) -> Reply | Pass: ...


class Door(Protocol):
    """Where a node's endpoint is and how its listening socket is made."""

    def place(self, netns: str, pid: int) -> str: ...

    def listen(self, place: str, pid: int) -> socket.socket: ...


class UnixDoor:
    """The node's own /var/run/docker.sock (replacing the last lab host process's), made in its
    own mount namespace; the endpoint lasts while that namespace does."""

    @staticmethod
    def place(netns: str, pid: int) -> str:
        return f"/proc/{pid}/ns/mnt"

    @staticmethod
    def listen(place: str, pid: int) -> socket.socket:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            nsock.bind_in_mounts(listener, pid, f"/{SOCKET}")
            listener.listen(CONNECTIONS_PER_NODE)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        return listener


@dataclass
class TcpDoor:
    """`address:port` in the node's network namespace: the socket listens at a port of its own on
    `address`, and a table of the namespace's (`table`) sends `port` there, so a lab's own server
    may still listen on `port` on every address."""

    address: str
    port: int
    table: str

    @staticmethod
    def place(netns: str, pid: int) -> str:
        return netns

    def listen(self, place: str, pid: int) -> socket.socket:
        listener = nsock.socket_in(place, socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((self.address, 0))
            listener.listen(CONNECTIONS_PER_NODE)
            listener.setblocking(False)
            nft(
                pid,
                local_redirect(self.table, self.address, "tcp", self.port, listener.getsockname()[1]),
                "-f",
                "-",
            )
        except BaseException:
            listener.close()
            raise
        return listener


def error(status: int, message: str) -> Reply:
    """An error as dockerd gives one: the CLI prints `Error response from daemon: MESSAGE`."""
    return Reply(status, {"message": message})


class Pace:
    """At most `rate` events a second; `wait()` sleeps until one is allowed."""

    def __init__(self, rate: float):
        self.rate, self.allowed, self.lock = rate, time.monotonic(), threading.Lock()

    def wait(self, amount: float = 1.0) -> None:
        with self.lock:
            now = time.monotonic()
            self.allowed = max(self.allowed, now - 1.0) + amount / self.rate
            delay = self.allowed - now - 1.0
        if delay > 0:
            time.sleep(delay)


@dataclass
class Endpoint:
    lab: str
    node: str
    path: str
    listener: socket.socket
    pace: Pace = field(default_factory=lambda: Pace(CALLS_PER_SECOND))
    slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(CONNECTIONS_PER_NODE)
    )


class EngineApi:
    """`follow()` the namespaces that run (the monitor's map); `run(stop)` serves them."""

    def __init__(self, backend: Backend, engine: Callable[[], socket.socket], door: Door | None = None):
        self.backend, self.engine = backend, engine
        self.door: Door = door or UnixDoor()
        self.endpoints: dict[str, Endpoint] = {}  # socket path -> endpoint
        self.passed: set[str] = set()  # socket paths of nodes that are no Docker host (asked once)
        self.wanted: dict[str, tuple[str, str, int]] | None = None
        self.lock = threading.Lock()
        self.selector = WakeableSelector()

    def follow(self, wanted: dict[str, tuple[str, str, int]]) -> None:
        """The namespaces that run now: netns path -> (lab, node, pid)."""
        with self.lock:
            self.wanted = dict(wanted)
        self.selector.wake()

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._take_in()
                for key in self.selector.ready(0.5):
                    self._accept(key.data)
        finally:
            for endpoint in list(self.endpoints.values()):
                self._close(endpoint)
            self.selector.close()

    def _take_in(self) -> None:
        with self.lock:
            wanted, self.wanted = self.wanted, None
        if wanted is None:
            return
        paths = {}
        for netns, (lab, node, pid) in wanted.items():
            if lab and node and pid:
                paths[self.door.place(netns, pid)] = (lab, node, pid)
        for path in list(self.endpoints):
            if path not in paths or not os.path.exists(path):
                self._close(self.endpoints.pop(path))
        self.passed &= set(paths)
        for path, (lab, node, pid) in paths.items():
            if path in self.endpoints or path in self.passed:
                continue
            try:
                if not self.backend.serves(lab, node):
                    self.passed.add(path)
                    continue
                self.endpoints[path] = endpoint = Endpoint(lab, node, path, self.door.listen(path, pid))
            except Exception as exc:  # its container went meanwhile, or the database is away
                log.info("no API socket in %s/%s: %s", lab, node, exc)
                continue
            self.selector.register(endpoint.listener, endpoint)

    def _close(self, endpoint: Endpoint) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(endpoint.listener)
        endpoint.listener.close()

    def _accept(self, endpoint: Endpoint) -> None:
        try:
            conn, _ = endpoint.listener.accept()
        except OSError:
            return
        if not endpoint.slots.acquire(blocking=False):
            conn.close()  # too many at once from this node
            return
        conn.setblocking(True)
        threading.Thread(target=self._serve, args=(endpoint, conn), name="engine-api", daemon=True).start()

    def _serve(self, endpoint: Endpoint, conn: socket.socket) -> None:
        try:
            Handler(conn, ("", 0), (self, endpoint))  # serves the connection until it ends
        except Exception as exc:  # the client went away mid-call
            log.debug("engine API connection in %s/%s ended: %s", endpoint.lab, endpoint.node, exc)
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            endpoint.slots.release()


class Handler(BaseHTTPRequestHandler):
    """One connection from a node: calls, one after the other, as HTTP/1.1 keeps them."""

    protocol_version = "HTTP/1.1"
    sys_version = ""
    timeout = 600  # an idle connection is let go

    def __init__(self, conn: socket.socket, address: Any, server: tuple[EngineApi, Endpoint]) -> None:
        self.api, self.endpoint = server
        super().__init__(conn, address, server)  # type: ignore[arg-type]  # no socketserver here

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("engine API %s/%s: " + format, self.endpoint.lab, self.endpoint.node, *args)

    def do_GET(self) -> None:
        self._call("GET")

    def do_HEAD(self) -> None:
        self._call("HEAD")

    def do_POST(self) -> None:
        self._call("POST")

    def do_PUT(self) -> None:
        self._call("PUT")

    def do_DELETE(self) -> None:
        self._call("DELETE")

    def _call(self, method: str) -> None:
        self.endpoint.pace.wait()
        body = self._body()
        if body is None:
            return
        parts = urlsplit(self.path)
        found = VERSIONED.match(parts.path)
        if found and _newer(found[1], API_VERSION):
            self._send(error(400, f"client version {found[1]} is too new. Maximum supported API version is "
                             f"{API_VERSION}"))  # fmt: skip
            return
        call = Call(
            self.endpoint.lab,
            self.endpoint.node,
            method,
            found[2] if found else parts.path,
            parse_qs(parts.query, keep_blank_values=True),
            body,
            self.path,
        )
        try:
            answer = self.api.backend.handle(call)
        except Exception:
            log.exception("engine API call %s %s failed", method, call.path)
            answer = error(500, "the lab host could not carry out this call; try again")
        if isinstance(answer, Pass):
            self._relay(answer)
        else:
            self._send(answer, head=method == "HEAD")

    def _body(self) -> Any:
        """The JSON body (None when there is none); False after refusing it."""
        length = int(self.headers.get("Content-Length") or 0)
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        if length > MAX_BODY:
            self._send(error(413, f"a request body is at most {MAX_BODY // 1024} KiB here"))
            self.close_connection = True
            return None
        raw = _read_chunked(self.rfile, MAX_BODY) if chunked else self.rfile.read(length) if length else b""
        if raw is None:
            self._send(error(413, f"a request body is at most {MAX_BODY // 1024} KiB here"))
            self.close_connection = True
            return None
        self.raw_body = raw
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            if "json" in (self.headers.get("Content-Type") or ""):
                self._send(error(400, "invalid JSON in the request body"))
                return None
            return {}

    def _send(self, reply: Reply, head: bool = False) -> None:
        if isinstance(reply.body, str):
            data, kind = reply.body.encode(), "text/plain; charset=utf-8"
        elif reply.body is None:
            data, kind = b"", ""
        else:
            data, kind = (json.dumps(reply.body) + "\n").encode(), "application/json"
        self.send_response(reply.status)
        headers = {**self._standard(), **({"Content-Type": kind} if kind else {}), **reply.headers}
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data and not head:
            self.wfile.write(data)

    def _standard(self) -> dict[str, str]:
        return self.api.backend.headers

    def version_string(self) -> str:
        return self.api.backend.server

    # Relayed calls -----------------------------------------------------------------------

    def _relay(self, passed: Pass) -> None:
        engine = self.api.engine()
        try:
            upgrade = self.headers.get("Upgrade")
            head = [f"{passed.method} /v{API_VERSION}{passed.path} HTTP/1.1", "Host: docker"]
            head += ["Content-Type: application/json", f"Content-Length: {len(passed.body)}"]
            head += ["Connection: Upgrade", f"Upgrade: {upgrade}"] if upgrade else ["Connection: close"]
            engine.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + passed.body)
            answer = http.client.HTTPResponse(engine, method=passed.method)
            answer.begin()
            if answer.status == 101:
                self._hijacked(answer, engine)
            elif passed.upgraded and answer.status == 200:
                self._upgrade()
                _pump(engine, self.connection, answer)
            elif passed.rewrite is not None or passed.opened is not None:
                self._rewritten(answer, passed)
            else:
                self._streamed(answer)
            if passed.done is not None:
                passed.done()
        finally:
            engine.close()

    def _rewritten(self, answer: http.client.HTTPResponse, passed: Pass) -> None:
        data = answer.read(MAX_BODY * 16)
        if answer.status >= 300:
            self._send(Reply(answer.status, _json_or_text(data)))
            return
        found = json.loads(data) if data.strip() else None
        if passed.opened is not None:
            passed.opened(found)
        self._send(Reply(answer.status, passed.rewrite(found) if passed.rewrite else found))

    def _streamed(self, answer: http.client.HTTPResponse) -> None:
        """A plain answer or a stream (logs -f, wait), sent on as chunks as it comes."""
        self.send_response(answer.status)
        for name, value in self._standard().items():
            self.send_header(name, value)
        self.send_header("Content-Type", answer.getheader("Content-Type") or "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")  # a stream is the connection's last answer
        self.end_headers()
        pace, sent, until = Pace(STREAM_RATE), 0, time.monotonic() + MAX_STREAM_SECONDS
        while sent < MAX_STREAM_BYTES and time.monotonic() < until:
            data = answer.read1(16384)
            if not data:
                break
            pace.wait(len(data))
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            sent += len(data)
        self.wfile.write(b"0\r\n\r\n")
        self.close_connection = True

    def _upgrade(self) -> None:
        self.send_response(101, "UPGRADED")
        self.send_header("Content-Type", "application/vnd.docker.raw-stream")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "tcp")
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True

    def _hijacked(self, answer: http.client.HTTPResponse, engine: socket.socket) -> None:
        """exec or attach: after the engine's 101, bytes flow both ways until either side ends."""
        self._upgrade()
        client = self.connection
        to_engine = threading.Thread(target=_pump, args=(client, engine, self.rfile), daemon=True)
        to_engine.start()
        _pump(engine, client, answer.fp)
        with contextlib.suppress(OSError):
            engine.shutdown(socket.SHUT_RDWR)
        to_engine.join(timeout=5)


def _pump(source: socket.socket, sink: socket.socket, buffered: Any = None) -> None:
    """Copy until `source` ends, paced and bounded; then half-close `sink`."""
    pace, sent, until = Pace(STREAM_RATE), 0, time.monotonic() + MAX_STREAM_SECONDS
    try:
        while sent < MAX_STREAM_BYTES and time.monotonic() < until:
            data = buffered.read1(65536) if buffered is not None else source.recv(65536)
            if not data:
                break
            pace.wait(len(data))
            sink.sendall(data)
            sent += len(data)
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def _read_chunked(stream: Any, most: int) -> bytes | None:
    out = bytearray()
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            stream.readline()
            return bytes(out)
        out += stream.read(size)
        stream.readline()
        if len(out) > most:
            return None


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return {"message": data.decode(errors="replace").strip()}


def _newer(version: str, than: str) -> bool:
    return tuple(map(int, version.split("."))) > tuple(map(int, than.split(".")))
