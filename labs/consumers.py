"""WebSocket consumers: a lab's live state, and a console on one of its nodes.

Permission is checked in connect(); a socket closes when access is withdrawn.
"""

from __future__ import annotations

import asyncio
import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings
from django.core.cache import cache

from labs.models import Lab

from .live import state as live
from .snapshots import full_snapshot

FORBIDDEN = 4403


@database_sync_to_async
def _own_lab(user, lab_id: int) -> Lab | None:
    if not user or not user.is_authenticated:
        return None
    return Lab.objects.filter(id=lab_id, owner=user).first()


class LabConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/labs/<id>/`: the snapshot on join, then coalesced, numbered events."""

    async def connect(self):
        self.lab = await _own_lab(self.scope.get("user"), self.scope["url_route"]["kwargs"]["lab_id"])
        if self.lab is None:
            await self.close(code=FORBIDDEN)
            return
        self.group = live.group_name(self.lab.uid)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        snapshot = await database_sync_to_async(full_snapshot)(self.lab)
        await self.send_json({"type": "snapshot", **snapshot})

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    SNAPSHOT_INTERVAL = 1.0  # seconds between snapshots one socket may ask for

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict) or content.get("type") != "snapshot":
            return
        # a client that saw a gap asks here; more often than this is a flood, not a gap
        now = asyncio.get_running_loop().time()
        if now - getattr(self, "last_snapshot", -1e9) < self.SNAPSHOT_INTERVAL:
            return
        self.last_snapshot = now
        snapshot = await database_sync_to_async(full_snapshot)(self.lab)
        await self.send_json({"type": "snapshot", **snapshot})

    async def lab_events(self, message):
        await self.send_json(message["payload"])

    async def lab_access(self, message):
        """Sent when a lab is deleted or changes hands: close if this user lost it."""
        if await _own_lab(self.scope.get("user"), self.lab.id) is None:
            await self.close(code=FORBIDDEN)


class ConsoleConsumer(AsyncWebsocketConsumer):
    """`/ws/labs/<id>/nodes/<node>/console/`: a shell with a TTY in the node.

    Binary frames carry terminal bytes both ways; a text frame
    `{"type": "resize", "cols": C, "rows": R}` resizes the terminal. The shell runs on the
    lab host that holds the lab, which relays it over the channel layer; this process never
    talks to a container engine.
    """

    OPEN_TIMEOUT = 20

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.lab = await _own_lab(self.scope.get("user"), kwargs["lab_id"])
        self.inbox, self.pending = None, []
        if self.lab is None:
            await self.close(code=FORBIDDEN)
            return
        await self.accept()
        if not await asyncio.to_thread(_console_slot, self.scope["user"], +1):
            limit = settings.WIRELAB_MAX_CONSOLES_PER_USER
            await self._fail(f"you have {limit} consoles open: close one first", code=4429)
            return
        self.counted = True
        request = {
            "type": "console.open",
            "lab": self.lab.uid,
            "node": kwargs["node"],
            "reply": self.channel_name,
        }
        await self.channel_layer.send(live.console_channel(self.lab.labhost), request)
        self.waiting = asyncio.ensure_future(self._expect_answer())

    async def _expect_answer(self) -> None:
        await asyncio.sleep(self.OPEN_TIMEOUT)
        if self.inbox is None:
            await self._fail(f"lab host {self.lab.labhost} did not answer; is its worker running?")

    async def _fail(self, message: str, code: int = 4404) -> None:
        await self.send(text_data=json.dumps({"type": "error", "message": message}))
        await self.close(code=code)

    async def console_opened(self, message):
        self.inbox = message["inbox"]
        for item in self.pending:
            await self.channel_layer.send(self.inbox, item)
        self.pending.clear()

    async def console_output(self, message):
        await self.send(bytes_data=message["data"])

    async def console_error(self, message):
        await self._fail(message.get("message", "the console cannot be opened"))

    async def console_closed(self, message):
        if message.get("idle"):
            await self.send(bytes_data=b"\r\n[idle for too long: console closed]\r\n")
        await self.close()

    async def receive(self, text_data=None, bytes_data=None):
        if bytes_data is not None:
            await self._forward({"type": "console.input", "data": bytes_data})
            return
        try:
            data = json.loads(text_data or "")
        except ValueError:
            await self._forward({"type": "console.input", "data": (text_data or "").encode()})
            return
        if not isinstance(data, dict):
            return
        if data.get("type") == "resize":
            size = _terminal_size(data)
            if size is not None:
                await self._forward({"type": "console.resize", "cols": size[0], "rows": size[1]})
        elif data.get("type") == "input":
            await self._forward({"type": "console.input", "data": str(data.get("data", "")).encode()})

    async def _forward(self, item: dict) -> None:
        if self.inbox is None:
            if len(self.pending) < 100:
                self.pending.append(item)
            return
        await self.channel_layer.send(self.inbox, item)

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            self.counted = False
            await asyncio.to_thread(_console_slot, self.scope["user"], -1)
        if getattr(self, "waiting", None):
            self.waiting.cancel()
        if getattr(self, "inbox", None):
            await self.channel_layer.send(self.inbox, {"type": "console.close"})


def _console_slot(user, change: int) -> bool:
    """Take (+1) or give back (-1) one of the user's console slots; False when none is free.

    Counted in the cache this web process uses (one per process unless a shared one is set).
    """
    key = f"wirelab:consoles:{user.pk}"
    cache.add(key, 0, 24 * 3600)
    count = cache.incr(key, change)
    if change > 0 and count > settings.WIRELAB_MAX_CONSOLES_PER_USER:
        cache.decr(key)
        return False
    return True


def _terminal_size(data: dict) -> tuple[int, int] | None:
    """(cols, rows) from a resize request, or None when they are not sensible numbers."""
    try:
        cols, rows = int(data.get("cols")), int(data.get("rows"))
    except (TypeError, ValueError):
        return None
    if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
        return None
    return cols, rows
