"""Faults on demand: a forwarder placed between a Wirelab process and a real service
(PostgreSQL, Redis, the Docker engine) that a test can cut and restore.

Cutting closes every forwarded connection and stops listening, so the process sees what it
would see if the service went away (connection reset, then connection refused); restoring
listens again on the same address, as a restarted service would. The service itself, which
other processes share, is never touched.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from pathlib import Path


class Outage:
    """Forwards `listen` (TCP port on loopback, or a Unix socket path) to `target`."""

    def __init__(self, target: tuple[str, int] | str, unix_path: Path | None = None):
        self.target = target
        self.unix_path = unix_path
        self.port = 0
        self.lock = threading.Lock()
        self.live: set[socket.socket] = set()
        self.listener: socket.socket | None = None
        self.accepting: threading.Thread | None = None
        self.restore()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}" if self.unix_path is None else str(self.unix_path)

    def restore(self) -> None:
        """Listen (again) and forward every new connection."""
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(self.unix_path))
        else:
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", self.port))
            self.port = listener.getsockname()[1]
        listener.listen(64)
        self.listener = listener
        self.accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self.accepting.start()

    def cut(self) -> None:
        """Stop listening and drop every forwarded connection at once."""
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self.accepting is not None:
            self.accepting.join(timeout=5)
        with self.lock:
            live, self.live = self.live, set()
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.cut()
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)

    def _connect(self) -> socket.socket:
        if isinstance(self.target, str):
            upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            upstream = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        upstream.connect(self.target)
        return upstream

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = self._connect()
            except OSError:
                client.close()
                continue
            with self.lock:
                self.live.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        with self.lock:
            self.live.discard(source)
        source.close()
