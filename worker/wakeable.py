"""A selector another thread can wake: the serving loops of the lab's DNS and Docker API wait on
their sockets, and are woken when the monitor tells them what runs now."""

from __future__ import annotations

import contextlib
import selectors
import socket
from typing import Any


class WakeableSelector:
    """`wake()` from any thread ends a `ready()` wait at once."""

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)

    def register(self, sock: socket.socket, data: Any) -> None:
        self._selector.register(sock, selectors.EVENT_READ, data)

    def unregister(self, sock: socket.socket) -> None:
        self._selector.unregister(sock)

    def wake(self) -> None:
        with contextlib.suppress(OSError):  # closed meanwhile: stopping
            self._wake_w.send(b"x")

    def ready(self, timeout: float) -> list[selectors.SelectorKey]:
        """The keys of the registered sockets ready to read, waiting at most `timeout`."""
        out = []
        for key, _ in self._selector.select(timeout):
            if key.fileobj is self._wake_r:
                with contextlib.suppress(BlockingIOError):
                    while self._wake_r.recv(4096):
                        pass
            else:
                out.append(key)
        return out

    def close(self) -> None:
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()
