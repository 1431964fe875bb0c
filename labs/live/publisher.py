"""The monitor's publisher: coalesces bursts per lab, records them in Redis, and sends one
message per flush to the lab's group.

The first event after a quiet spell goes out at once; what follows within `window`
seconds is merged (the latest state of each entity wins) and sent when it closes, so a
client gets at most about 1/window messages a second per lab however hard links flap.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from .state import entity_key, group_name, message, record


class LabPublisher:
    """Runs on one asyncio loop; `submit()` may be called from other threads via `submit_threadsafe`."""

    def __init__(self, redis_url: str, channel_layer, window: float = 0.2):
        self.redis = aioredis.Redis.from_url(redis_url)
        self.layer = channel_layer
        self.window = window
        self.pending: dict[str, dict[str, dict]] = {}
        self.last_flush: dict[str, float] = {}
        self.timers: dict[str, asyncio.TimerHandle] = {}
        self.locks: dict[str, asyncio.Lock] = {}
        self.sent = 0
        self.loop: asyncio.AbstractEventLoop | None = None

    def submit_threadsafe(self, lab: str, events: list[dict]) -> None:
        asyncio.run_coroutine_threadsafe(self.submit(lab, events), self.loop)

    async def submit(self, lab: str, events: list[dict]) -> None:
        self.loop = self.loop or asyncio.get_running_loop()
        pending = self.pending.setdefault(lab, {})
        for event in events:
            pending[entity_key(event)] = event
        if lab in self.timers:
            return
        wait = self.last_flush.get(lab, -1e9) + self.window - self.loop.time()
        if wait <= 0:
            await self.flush(lab)
        else:
            self.timers[lab] = self.loop.call_later(wait, lambda: asyncio.ensure_future(self.flush(lab)))

    async def flush(self, lab: str) -> None:
        self.timers.pop(lab, None)
        lock = self.locks.setdefault(lab, asyncio.Lock())
        async with lock:
            events = list(self.pending.pop(lab, {}).values())
            if not events:
                return
            self.last_flush[lab] = self.loop.time()
            pipe = self.redis.pipeline(transaction=True)
            record(pipe, lab, events)
            seq = (await pipe.execute())[0]
            await self.layer.group_send(group_name(lab), message(seq, events))
            self.sent += 1

    async def close(self) -> None:
        for handle in self.timers.values():
            handle.cancel()
        for lab in list(self.pending):
            await self.flush(lab)
        await self.redis.aclose()
