"""The cache that holds Wirelab's limits (API throttles, sign-in, join and sign-up counters,
console slots, viewer caps): Django's Redis cache, so every web process counts in one place,
with atomic counters (INCR) that expire, and nothing evicted to make room for other keys.

A Redis outage must not turn every page into a 500: while Redis cannot be reached, reads miss,
writes are dropped and counters count from nothing (limits are open for that while; the health
page says Redis is down). `clear()` removes only the cache's own keys: the channel layer and
the Celery broker may share the database.
"""

from __future__ import annotations

import logging
import threading
import time
from functools import cached_property
from typing import Any

import redis
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache

log = logging.getLogger(__name__)
SAY_EVERY_SECONDS = 60.0
_clients: dict[tuple[tuple[str, ...], str], Any] = {}
_lock = threading.Lock()


class LimitsCache(RedisCache):
    _said = 0.0

    @cached_property
    def _cache(self):
        """One client (and connection pool) per process and server: Django makes a cache object
        per thread, and a thread of asyncio.to_thread() each time, each with a pool of its own."""
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._class(self._servers, **self._options)
        return client

    def _unreachable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - LimitsCache._said >= SAY_EVERY_SECONDS:
            LimitsCache._said = now
            log.warning("the cache's Redis cannot be reached, limits are open meanwhile: %s", exc)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            return super().add(key, value, timeout, version)
        except redis.RedisError as exc:
            self._unreachable(exc)
            return False

    def get(self, key, default=None, version=None):
        try:
            return super().get(key, default, version)
        except redis.RedisError as exc:
            self._unreachable(exc)
            return default

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        try:
            super().set(key, value, timeout, version)
        except redis.RedisError as exc:
            self._unreachable(exc)

    def delete(self, key, version=None):
        try:
            return super().delete(key, version)
        except redis.RedisError as exc:
            self._unreachable(exc)
            return False

    def incr(self, key, delta=1, version=None):
        try:
            return super().incr(key, delta, version)
        except redis.RedisError as exc:
            self._unreachable(exc)
            return delta

    def clear(self):
        client = self._cache.get_client(write=True)
        for keys in _batches(client.scan_iter(match=f"{self.key_prefix}:*", count=500), 500):
            client.delete(*keys)
        return True


def _batches(items, size: int):
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
