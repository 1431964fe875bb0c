"""Health checks of a lab's app instances (the orchestrator's, Marathon's kinds): a TCP
connection or an HTTP request made from the instance's own network namespace to 127.0.0.1, or a
command run in it. Each is bounded by its timeout."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from . import nsock
from .runtime import ContainerInfo, Runtime

MAX_ANSWER = 1024  # of an HTTP answer: its status line is all a check reads


@dataclass(frozen=True)
class Probe:
    protocol: str  # tcp | http | command
    port: int = 0
    path: str = "/"
    command: str = ""
    timeout: float = 5.0


def probe(runtime: Runtime, info: ContainerInfo, check: Probe) -> tuple[bool, str]:
    """Whether the instance passes the check, and why not."""
    if check.protocol == "command":
        code, out = runtime.exec(info.id, ["sh", "-c", check.command], timeout=check.timeout, limit=4096)
        last = out.strip().splitlines()[-1] if out.strip() else ""
        return code == 0, "" if code == 0 else f"`{check.command}` exited {code}" + (
            f": {last}" if last else ""
        )
    try:
        sock = nsock.socket_in(f"/proc/{info.pid}/ns/net", socket.AF_INET, socket.SOCK_STREAM)
    except OSError as exc:
        return False, f"its namespace is gone ({exc.strerror or exc})"
    deadline = time.monotonic() + check.timeout
    try:
        sock.settimeout(check.timeout)
        try:
            sock.connect(("127.0.0.1", check.port))
        except OSError as exc:
            return False, f"port {check.port}: {exc.strerror or 'timed out'}"
        if check.protocol == "tcp":
            return True, ""
        return _http(sock, check, deadline)
    finally:
        sock.close()


def _http(sock: socket.socket, check: Probe, deadline: float) -> tuple[bool, str]:
    request = f"GET {check.path} HTTP/1.0\r\nHost: localhost\r\nUser-Agent: wirelab-health\r\n\r\n"
    answer = b""
    try:
        sock.sendall(request.encode())
        while b"\r\n" not in answer and len(answer) < MAX_ANSWER:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = sock.recv(MAX_ANSWER)
            if not chunk:
                break
            answer += chunk
    except OSError as exc:
        return False, f"GET {check.path} on port {check.port}: {exc.strerror or 'timed out'}"
    parts = answer.split(b"\r\n", 1)[0].split()
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if 200 <= status < 400:
        return True, ""
    return False, f"GET {check.path} on port {check.port} answered {status or 'nothing HTTP'}"
