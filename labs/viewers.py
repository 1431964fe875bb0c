"""The view socket of a share link, `/ws/shared/`: a lab's live state, read-only.

The socket is authorised by the link, not by a session: its first message is
`{"type": "join", "token": ...}` (a token in the URL would be written to access logs).
After that it only ever asks for snapshots; anything else is answered with an error and
changes nothing. It closes when the link is revoked, expires or its lab is deleted.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from . import sharing
from .consumers import LiveConsumer, take_slot
from .live import state as live
from .snapshots import full_snapshot

GONE = 4404
TOO_MANY = 4429
READ_ONLY = "this is a read-only view: it can only show the lab"


class SharedSnapshots:
    """Snapshots of a lab built once for all its viewers in this process: a hundred viewers
    joining at once cost one read of the database and Redis, not a hundred."""

    MAX_AGE = 0.5

    def __init__(self):
        self.built: dict[str, tuple[float, dict]] = {}
        self.pending: dict[str, asyncio.Future] = {}

    async def get(self, lab, newer_than: float) -> dict:
        """A snapshot of `lab` built after `newer_than` (event-loop time)."""
        loop = asyncio.get_running_loop()
        hit = self.built.get(lab.tag)
        if hit and hit[0] >= newer_than:
            return hit[1]
        pending = self.pending.get(lab.tag)
        if pending is not None and not pending.done() and pending.get_loop() is loop:
            started, snapshot = await asyncio.shield(pending)
            if started >= newer_than:
                return snapshot
        future = loop.create_future()
        self.pending[lab.tag] = future
        started = loop.time()
        try:
            snapshot = await database_sync_to_async(full_snapshot)(lab)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no warning when nobody else waits on it
            raise
        future.set_result((started, snapshot))
        self.built[lab.tag] = (started, snapshot)
        if len(self.built) > 1000:
            self.built = {tag: hit for tag, hit in self.built.items() if hit[0] > loop.time() - self.MAX_AGE}
        return snapshot


SNAPSHOTS = SharedSnapshots()


def use_allowed(address: str) -> bool:
    """The share-link rate of one address, the same one the API counts against."""
    from .api.sharing import ShareUseThrottle

    request = SimpleNamespace(META={"REMOTE_ADDR": address}, user=AnonymousUser())
    return ShareUseThrottle().allow_request(request, None)  # type: ignore[arg-type]  # it reads META, user


class ViewerConsumer(LiveConsumer):
    JOIN_TIMEOUT = 10

    link = None
    slot = None

    async def connect(self):
        await self.accept()
        self.waiting = asyncio.ensure_future(self._close_unless_joined())

    async def _close_unless_joined(self) -> None:
        await asyncio.sleep(self.JOIN_TIMEOUT)
        if self.link is None:
            await self._end("send the link's token first", GONE)

    async def _end(self, message: str, code: int) -> None:
        await self.send_json({"type": "error", "message": message})
        await self.close(code=code)

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if self.link is None:
            if kind == "join" and not getattr(self, "joining", False):
                self.joining = True
                await self._join(content.get("token"))
        elif kind == "snapshot":
            await self.ask_snapshot()
        else:
            await self.send_json({"type": "error", "message": READ_ONLY})

    async def _join(self, token) -> None:
        address = (self.scope.get("client") or ["unknown"])[0]
        if not await asyncio.to_thread(use_allowed, address):
            return await self._end("too many share links tried from this address: wait a minute", TOO_MANY)
        link = await database_sync_to_async(sharing.find_link)(token)
        if link is None or not link.can_view:
            return await self._end(sharing.GONE if link is None else "this link is for cloning only", GONE)
        if link.snapshot is not None:
            return await self._end("this link shows a snapshot of the lab: it has no live state", GONE)
        slot = f"wirelab:viewers-from:{address}"
        if not await asyncio.to_thread(take_slot, slot, +1, settings.WIRELAB_VIEWERS_PER_ADDRESS):
            return await self._end("too many views open from this address: close one first", TOO_MANY)
        self.slot = slot
        count = await asyncio.to_thread(sharing.viewer_seen, link, self.channel_name)
        self.link, self.lab = link, link.lab
        if count > settings.WIRELAB_VIEWERS_PER_LINK:
            return await self._end("this link has as many viewers as it may: try again later", TOO_MANY)
        groups = [live.group_name(self.lab.tag), sharing.link_group(link.id)]
        if link.present:
            groups.append(sharing.present_group(self.lab.tag))
        await self.join(*groups)
        await database_sync_to_async(sharing.mark_used)(link)
        self.watching = asyncio.ensure_future(self._watch())
        await self.send_json({"type": "joined", "present": link.present})
        snapshot = await SNAPSHOTS.get(self.lab, asyncio.get_running_loop().time() - SNAPSHOTS.MAX_AGE)
        await self.send_json({"type": "snapshot", **snapshot})
        if link.present:
            view = await asyncio.to_thread(sharing.last_presentation, self.lab.tag)
            if view:
                await self.send_json({"type": "present", **view})

    async def _watch(self) -> None:
        """Keep this viewer counted, and close when the link expires."""
        link = self.link
        while link is not None:
            left = (link.expires - timezone.now()).total_seconds() if link.expires else 1e9
            if left <= 0:
                return await self._end(sharing.GONE, GONE)
            await asyncio.sleep(min(sharing.HEARTBEAT, left))
            await asyncio.to_thread(sharing.viewer_seen, link, self.channel_name)

    async def send_snapshot(self) -> None:
        snapshot = await SNAPSHOTS.get(self.lab, asyncio.get_running_loop().time())
        await self.send_json({"type": "snapshot", **snapshot})

    async def share_revoked(self, message):
        await self._end(sharing.GONE, GONE)

    async def lab_access(self, message):
        if not await database_sync_to_async(sharing.still_open)(self.link.id):
            await self._end(sharing.GONE, GONE)

    async def lab_present(self, message):
        await self.send_json({"type": "present", **message["view"]})

    async def disconnect(self, code):
        await super().disconnect(code)
        for task in (getattr(self, "waiting", None), getattr(self, "watching", None)):
            if task is not None:
                task.cancel()
        if self.link is not None:
            await asyncio.to_thread(sharing.viewer_gone, self.link, self.channel_name)
        if self.slot is not None:
            self.slot, slot = None, self.slot
            await asyncio.to_thread(take_slot, slot, -1, 0)
