"""Consoles served by the lab host that holds the lab, relayed over the channel layer.

The web side's consumer asks on the lab host's console channel (`console.open`, with the
channel to answer on); the relay opens a shell with a TTY in the node, answers with an
inbox for the keystrokes (`console.opened`), then streams the terminal's bytes back
(`console.output`) until either side closes or nobody types for the idle time. The bytes also
go to the request's `watch` group, where a course's teachers may follow a student's console
(read-only: nothing comes back from that group).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from channels import DEFAULT_CHANNEL_LAYER
from channels.layers import channel_layers
from django.conf import settings

from worker.labhost import Engine, EngineError

from ..live.state import console_channel
from .engine import this_labhost

log = logging.getLogger(__name__)
MAX_FRAME = 16384


class ConsoleRelay:
    """Serves the consoles of one lab host on an event loop of its own."""

    def __init__(self, labhost_name: str, labhost: Engine, idle_seconds: float, layer=None):
        self.channel = console_channel(labhost_name)
        self.labhost = labhost
        self.idle_seconds = idle_seconds
        # a layer of its own: its process-specific inboxes are read on this relay's loop only
        self.layer = layer or channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
        self.loop = asyncio.new_event_loop()
        self.sessions: set[asyncio.Task] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="console-relay", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self._cancel_all)
        if self._thread:
            self._thread.join(timeout=10)

    def _cancel_all(self) -> None:
        for task in asyncio.all_tasks(self.loop):
            task.cancel()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self.serve())
        self.loop.close()

    async def serve(self) -> None:
        while True:
            try:
                request = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the channel layer went away: wait and listen again
                log.warning("console relay cannot read its channel: %s", exc)
                await asyncio.sleep(1)
                continue
            if request.get("type") == "console.open" and isinstance(request.get("reply"), str):
                task = asyncio.ensure_future(self.session(request))
                self.sessions.add(task)
                task.add_done_callback(self.sessions.discard)

    async def session(self, request: dict) -> None:
        reply = request["reply"]
        try:
            tty, release = await asyncio.to_thread(
                self.labhost.open_console, str(request.get("lab", "")), str(request.get("node", ""))
            )
        except EngineError as exc:
            await self.layer.send(reply, {"type": "console.error", "message": str(exc)})
            return
        inbox = await self.layer.new_channel()
        tty.sock.setblocking(False)
        await self.layer.send(reply, {"type": "console.opened", "inbox": inbox})
        watch = request.get("watch") if isinstance(request.get("watch"), str) else None
        await self._tell_watchers(watch, "a console opened")
        state = {"last": self.loop.time()}
        pumps = [
            asyncio.ensure_future(self._output(tty, reply, watch)),
            asyncio.ensure_future(self._input(tty, inbox, state)),
            asyncio.ensure_future(self._idle(state)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.to_thread(release)
            with contextlib.suppress(Exception):
                await self.layer.send(reply, {"type": "console.closed", "idle": state.get("idle", False)})
            await self._tell_watchers(watch, "the console closed")

    async def _tell_watchers(self, watch: str | None, note: str) -> None:
        if watch:
            with contextlib.suppress(Exception):  # nobody watching, or the layer away: no matter
                await self.layer.group_send(watch, {"type": "console.note", "message": note})

    async def _output(self, tty, reply: str, watch: str | None = None) -> None:
        """The terminal's bytes: bursts (a screenful, a file) at once, then paced at
        WIRELAB_CONSOLE_OUTPUT_RATE. A command that prints without end (`yes`) then waits on
        its terminal: every byte costs the lab host's Docker engine far more than its size."""
        rate, burst = settings.WIRELAB_CONSOLE_OUTPUT_RATE, settings.WIRELAB_CONSOLE_OUTPUT_BURST
        tokens, last = float(burst), self.loop.time()
        while True:
            chunk = await self.loop.sock_recv(tty.sock, MAX_FRAME)
            if not chunk:
                return
            await self.layer.send(reply, {"type": "console.output", "data": chunk})
            if watch:
                await self.layer.group_send(watch, {"type": "console.output", "data": chunk})
            now = self.loop.time()
            tokens = min(burst, tokens + (now - last) * rate) - len(chunk)
            last = now
            if tokens < 0:
                await asyncio.sleep(-tokens / rate)

    async def _input(self, tty, inbox: str, state: dict) -> None:
        while True:
            message = await self.layer.receive(inbox)
            kind = message.get("type")
            if kind == "console.input" and isinstance(message.get("data"), bytes):
                state["last"] = self.loop.time()
                await self.loop.sock_sendall(tty.sock, message["data"][:MAX_FRAME])
            elif kind == "console.resize":
                state["last"] = self.loop.time()
                with contextlib.suppress(EngineError):
                    await asyncio.to_thread(tty.resize, message["cols"], message["rows"])
            elif kind == "console.close":
                return

    async def _idle(self, state: dict) -> None:
        while True:
            await asyncio.sleep(min(self.idle_seconds, 5))
            if self.loop.time() - state["last"] > self.idle_seconds:
                state["idle"] = True
                return


_relay: ConsoleRelay | None = None


def start_console_relay(labhost_name: str) -> ConsoleRelay:
    """Start this process's relay once (the lab host's worker calls it when ready)."""
    global _relay  # noqa: PLW0603 (one relay per lab host process)
    if _relay is None:
        _relay = ConsoleRelay(labhost_name, this_labhost(), settings.WIRELAB_CONSOLE_IDLE_SECONDS)
        _relay.start()
    return _relay
