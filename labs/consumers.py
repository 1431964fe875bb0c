"""WebSocket consumers: a lab's live state, and a console on one of its nodes.

Permission is checked in connect(); a socket closes when access is withdrawn.
"""

from __future__ import annotations

import asyncio
import json
import threading

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer
from django.conf import settings

from topology.models import Lab

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

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "snapshot":  # a client that saw a gap may ask here too
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
    `{"type": "resize", "cols": C, "rows": R}` resizes the terminal.
    """

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        self.lab = await _own_lab(self.scope.get("user"), kwargs["lab_id"])
        self.node = kwargs["node"]
        if self.lab is None:
            await self.close(code=FORBIDDEN)
            return
        from .console import Console, ConsoleError

        try:
            self.console = await asyncio.to_thread(Console.open, self.lab.uid, self.node)
        except ConsoleError as exc:
            await self.accept()
            await self.send(text_data=json.dumps({"type": "error", "message": str(exc)}))
            await self.close(code=4404)
            return
        await self.accept()
        self.loop = asyncio.get_running_loop()
        self.last_activity = self.loop.time()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()
        self.idle_task = asyncio.ensure_future(self._idle_watch())

    def _pump(self) -> None:
        for chunk in self.console.read_chunks():
            asyncio.run_coroutine_threadsafe(self.send(bytes_data=chunk), self.loop)
        asyncio.run_coroutine_threadsafe(self.close(), self.loop)

    async def _idle_watch(self) -> None:
        timeout = settings.WIRELAB_CONSOLE_IDLE_SECONDS
        while True:
            await asyncio.sleep(min(timeout, 5))
            if self.loop.time() - self.last_activity > timeout:
                await self.send(bytes_data=b"\r\n[idle for too long: console closed]\r\n")
                await self.close()
                return

    async def receive(self, text_data=None, bytes_data=None):
        self.last_activity = self.loop.time()
        if bytes_data is not None:
            await asyncio.to_thread(self.console.write, bytes_data)
        elif text_data:
            try:
                data = json.loads(text_data)
            except ValueError:
                await asyncio.to_thread(self.console.write, text_data.encode())
                return
            if data.get("type") == "resize":
                await asyncio.to_thread(self.console.resize, int(data["cols"]), int(data["rows"]))
            elif data.get("type") == "input":
                await asyncio.to_thread(self.console.write, str(data.get("data", "")).encode())

    async def disconnect(self, code):
        if getattr(self, "idle_task", None):
            self.idle_task.cancel()
        if getattr(self, "console", None):
            await asyncio.to_thread(self.console.close)
