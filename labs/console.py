"""A shell with a TTY inside a node, over the Docker engine's exec API."""

from __future__ import annotations

import contextlib
import socket

import docker

from worker.labels import LAB, NODE, ROLE

SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"]


class ConsoleError(Exception):
    """The console cannot be opened; the message says why."""


class Console:
    """One interactive exec session; read from one thread, write from another."""

    def __init__(self, client: docker.DockerClient, exec_id: str, sock: socket.socket):
        self.client, self.exec_id, self.sock = client, exec_id, sock

    @classmethod
    def open(cls, lab_uid: str, node: str) -> Console:
        client = docker.from_env(timeout=30)
        found = client.api.containers(filters={"label": [f"{LAB}={lab_uid}", f"{NODE}={node}"]})
        found = [c for c in found if c["Labels"].get(ROLE) in ("sandbox", "app")]
        if not found:
            client.close()
            raise ConsoleError(f"node {node} is not running")
        exec_id = client.api.exec_create(
            found[0]["Id"], SHELL, stdin=True, tty=True, environment={"TERM": "xterm-256color"}
        )["Id"]
        raw = client.api.exec_start(exec_id, tty=True, socket=True)
        sock = getattr(raw, "_sock", raw)
        return cls(client, exec_id, sock)

    def read_chunks(self):
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            yield chunk

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def resize(self, cols: int, rows: int) -> None:
        self.client.api.exec_resize(self.exec_id, height=rows, width=cols)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.client.close()
