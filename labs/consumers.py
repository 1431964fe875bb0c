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

from . import sharing
from .access import console_seen, shell_refusal, watchable
from .live import state as live
from .snapshots import full_snapshot

FORBIDDEN = 4403
MOVED = 4301  # not an end: the browser connects again


@database_sync_to_async
def _own_lab(user, lab_id: int) -> Lab | None:
    if not user or not user.is_authenticated:
        return None
    return Lab.objects.filter(id=lab_id, owner=user).first()


@database_sync_to_async
def _watched_lab(user, lab_id: int) -> Lab | None:
    return watchable(user).filter(id=lab_id).first()


class SnapshotBudget:
    """Snapshots one user may have built per second in this web process, over all their
    sockets: a snapshot reads the database and Redis, so a user with many sockets must not
    take the web server from the others."""

    def __init__(self, per_second: float):
        self.per_second = per_second
        self.next_free: dict[int, float] = {}

    def wait_for(self, user_id: int, now: float) -> float:
        """Seconds until this user's next snapshot may be built (0: now); books it."""
        start = max(now, self.next_free.get(user_id, 0.0))
        self.next_free[user_id] = start + 1.0 / self.per_second
        if len(self.next_free) > 10_000:  # forget users whose turn has long passed
            self.next_free = {u: t for u, t in self.next_free.items() if t > now}
        return start - now


SNAPSHOTS = SnapshotBudget(settings.WIRELAB_SNAPSHOTS_PER_USER)


class LiveConsumer(AsyncJsonWebsocketConsumer):
    """A lab's live state: the snapshot on join, then coalesced, numbered events."""

    SNAPSHOT_INTERVAL = 1.0  # seconds between snapshots one socket may ask for
    later: asyncio.Future[None] | None = None  # a snapshot asked for, sent when the interval ends

    lab: Lab
    groups_joined: list[str]

    async def join(self, *groups: str) -> None:
        self.groups_joined = list(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)
        if self.later is not None:
            self.later.cancel()

    async def ask_snapshot(self) -> None:
        """A client that saw a gap asks here. More often than the interval is a flood, not a
        gap: such a request is served once the interval has passed, and others meanwhile merge."""
        now = asyncio.get_running_loop().time()
        wait = getattr(self, "last_snapshot", -1e9) + self.SNAPSHOT_INTERVAL - now
        if wait <= 0:
            self.last_snapshot = now
            await self.send_snapshot()
        elif self.later is None or self.later.done():
            self.later = asyncio.ensure_future(self._snapshot_after(wait))

    async def _snapshot_after(self, wait: float) -> None:
        await asyncio.sleep(wait)
        await self.ask_snapshot()

    async def send_snapshot(self) -> None:
        raise NotImplementedError

    async def lab_events(self, message):
        await self.send_json(message["payload"])

    async def lab_moved(self, message):
        """The lab moved to another lab host under a new tag: the client connects again (it does
        so by itself) and joins the lab's new group."""
        await self.close(code=MOVED)

    async def lab_checks(self, message):
        """An exercise's check results (not part of the numbered live state)."""
        await self.send_json(message["payload"])


class LabConsumer(LiveConsumer):
    """`/ws/labs/<id>/`: the socket of the lab's owner, and of those who may watch it (a course's
    teachers). The owner may also send `{"type": "present", ...}`: what the owner shows, for
    viewers of the lab's presenting share links."""

    SNAPSHOT_LONGEST_WAIT = 10.0  # seconds a snapshot may wait for its user's turn
    PRESENT_INTERVAL = 0.05  # seconds between presentation updates passed on

    async def connect(self):
        user = self.scope.get("user")
        self.lab = await _watched_lab(user, self.scope["url_route"]["kwargs"]["lab_id"])
        if self.lab is None:
            await self.close(code=FORBIDDEN)
            return
        self.owner = self.lab.owner_id == user.id
        await self.join(live.group_name(self.lab.tag))
        await self.accept()
        await self.send_snapshot()

    async def send_snapshot(self) -> None:
        """The snapshot, in the user's turn (a request that would wait long is dropped)."""
        delay = SNAPSHOTS.wait_for(self.scope["user"].id, asyncio.get_running_loop().time())
        if delay > self.SNAPSHOT_LONGEST_WAIT:
            return
        await asyncio.sleep(delay)
        snapshot = await database_sync_to_async(full_snapshot)(self.lab)
        await self.send_json({"type": "snapshot", **snapshot})

    async def receive_json(self, content, **kwargs):
        if not isinstance(content, dict):
            return
        if content.get("type") == "snapshot":
            await self.ask_snapshot()
        elif content.get("type") == "present" and self.owner:
            await self._present(content)

    async def _present(self, content: dict) -> None:
        now = asyncio.get_running_loop().time()
        view = sharing.presentation(content)
        if view is None or now - getattr(self, "last_present", -1e9) < self.PRESENT_INTERVAL:
            return
        self.last_present = now
        await asyncio.to_thread(sharing.store_presentation, self.lab.tag, view)
        await self.channel_layer.group_send(
            sharing.present_group(self.lab.tag), {"type": "lab.present", "view": view}
        )

    async def lab_access(self, message):
        """Sent when a lab is deleted or changes hands: close if this user lost it."""
        if await _watched_lab(self.scope.get("user"), self.lab.id) is None:
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
        if (refusal := await database_sync_to_async(shell_refusal)(self.lab.id)) is not None:
            await self._fail(refusal, code=FORBIDDEN)
            return
        if not await asyncio.to_thread(_console_slot, self.scope["user"], +1):
            limit = settings.WIRELAB_MAX_CONSOLES_PER_USER
            await self._fail(f"you have {limit} consoles open: close one first", code=4429)
            return
        self.counted = True
        request = {
            "type": "console.open",
            "lab": self.lab.tag,
            "node": kwargs["node"],
            "reply": self.channel_name,
            "watch": live.console_watch_group(self.lab.tag, kwargs["node"]),
        }
        self.labhost = self.lab.host_of(kwargs["node"])
        await self.channel_layer.send(live.console_channel(self.labhost), request)
        self.waiting = asyncio.ensure_future(self._expect_answer())

    async def _expect_answer(self) -> None:
        await asyncio.sleep(self.OPEN_TIMEOUT)
        if self.inbox is None:
            await self._fail(f"lab host {self.labhost} did not answer; is its worker running?")

    async def _fail(self, message: str, code: int = 4404) -> None:
        await self.send(text_data=json.dumps({"type": "error", "message": message}))
        await self.close(code=code)

    async def console_opened(self, message):
        self.inbox = message["inbox"]
        self.node = self.scope["url_route"]["kwargs"]["node"]
        await database_sync_to_async(console_seen)(self.lab.id, self.node, True)
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
            await database_sync_to_async(console_seen)(self.lab.id, self.node, False)


def _console_slot(user, change: int) -> bool:
    """Take (+1) or give back (-1) one of the user's console slots; False when none is free."""
    return take_slot(f"wirelab:consoles:{user.pk}", change, settings.WIRELAB_MAX_CONSOLES_PER_USER)


def take_slot(key: str, change: int, limit: int) -> bool:
    """Take (+1) or give back (-1) one of `limit` slots counted under `key`; False when none
    is free. Counted in Redis, shared by every web process (config/cache.py); a count given
    back below zero (its key expired meanwhile) is set back to zero."""
    cache.add(key, 0, 24 * 3600)
    count = cache.incr(key, change)
    if change > 0 and count > limit:
        cache.decr(key)
        return False
    if count < 0:
        cache.incr(key, -count)
    return True


def _terminal_size(data: dict) -> tuple[int, int] | None:
    """(cols, rows) from a resize request, or None when they are not sensible numbers."""
    try:
        cols, rows = int(data.get("cols", "")), int(data.get("rows", ""))
    except (TypeError, ValueError):
        return None
    if not (1 <= cols <= 1000 and 1 <= rows <= 1000):
        return None
    return cols, rows
