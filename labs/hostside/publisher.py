"""The monitor's publisher: coalesces bursts per lab, records them in Redis, and sends one
message per flush to the lab's group. Within a flush the latest state of each entity wins.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from worker.live.events import entity_key

from ..live.state import group_name, message, record

BULK = {"counters"}  # sampled figures: they ride along, never hurry a message


class LabPublisher:
    """Runs on one asyncio loop; other threads hand it events with `submit_threadsafe`.

    State changes (links, cables, nodes, ports) go out at once unless the lab had one
    within `window`; then they wait for it to close. Counters wait up to `bulk_delay`
    for a message to ride in. So a browser gets at most about 1/window + 1/bulk_delay
    messages a second per lab.
    """

    def __init__(self, redis_url: str, channel_layer, window: float = 0.2, bulk_delay: float = 1.0):
        self.redis = aioredis.Redis.from_url(redis_url)
        self.layer = channel_layer
        self.window = window
        self.bulk_delay = bulk_delay
        self.pending: dict[str, dict[str, dict]] = {}
        self.last_flush: dict[str, float] = {}
        self.timers: dict[str, tuple[float, asyncio.TimerHandle]] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.sent = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None:
            raise RuntimeError("the publisher has not started")
        return self.loop

    def submit_threadsafe(self, lab: str, events: list[dict]) -> None:
        asyncio.run_coroutine_threadsafe(self.submit(lab, events), self._loop())

    async def submit(self, lab: str, events: list[dict]) -> None:
        self.loop = self.loop or asyncio.get_running_loop()
        pending = self.pending.setdefault(lab, {})
        for event in events:
            pending[entity_key(event)] = event
        now = self.loop.time()
        urgent = any(e["type"] not in BULK for e in events)
        if urgent:
            due = max(now, self.last_flush.get(lab, -1e9) + self.window)
        else:
            due = now + self.bulk_delay
        scheduled = self.timers.get(lab)
        if scheduled is not None and scheduled[0] <= due:
            return
        if scheduled is not None:
            scheduled[1].cancel()
        if due <= now:
            self.timers.pop(lab, None)
            await self.flush(lab)
        else:
            handle = self.loop.call_at(due, lambda: asyncio.ensure_future(self.flush(lab)))
            self.timers[lab] = (due, handle)

    async def flush(self, lab: str) -> None:
        scheduled = self.timers.pop(lab, None)
        if scheduled is not None:
            scheduled[1].cancel()
        lock = self.locks.setdefault(lab, asyncio.Lock())
        async with lock:
            events = list(self.pending.pop(lab, {}).values())
            if not events:
                return
            if any(e["type"] not in BULK for e in events):
                self.last_flush[lab] = self._loop().time()
            pipe = self.redis.pipeline(transaction=True)
            record(pipe, lab, events)
            seq = (await pipe.execute())[0]
            await self.layer.group_send(group_name(lab), message(seq, events))
            self.sent += 1

    async def close(self) -> None:
        for _, handle in self.timers.values():
            handle.cancel()
        for lab in list(self.pending):
            await self.flush(lab)
        await self.redis.aclose()
