"""Limits count in Redis (config/cache.py): every web process sees one count, nothing evicts
it, a count never goes below zero, guessing one name from many addresses is slowed too, and a
Redis that cannot be reached opens the limits instead of failing every page."""

from __future__ import annotations

import asyncio

import pytest
import redis
from django.conf import settings
from django.core.cache import cache, caches
from django.test import Client

from config.cache import LimitsCache
from labs.classroom.views import JOIN_TRIES
from labs.consumers import take_slot
from tests.apart import redis_connections

pytestmark = [pytest.mark.kernel, pytest.mark.django_db]


def test_a_blocked_address_stays_blocked_through_thousands_of_other_writes():
    assert isinstance(caches["default"], LimitsCache)
    guesser = Client(REMOTE_ADDR="192.0.2.7")
    for _ in range(JOIN_TRIES):
        assert guesser.post("/join/", {"code": "WRONG234"}).status_code == 400
    assert guesser.post("/join/", {"code": "WRONG234"}).status_code == 429
    for n in range(5000):  # what 200 anonymous requests did to a 300-entry cache in each process
        cache.set(f"someone-else:{n}", n, 60)
    assert guesser.post("/join/", {"code": "WRONG234"}).status_code == 429
    other_process = caches.create_connection("default")  # another web process's cache
    assert other_process.get("wirelab:join:192.0.2.7") == JOIN_TRIES + 2


def test_a_slot_given_back_twice_never_counts_below_zero():
    key = "wirelab:consoles:test"
    assert take_slot(key, +1, 1)
    assert not take_slot(key, +1, 1)
    assert take_slot(key, -1, 0)
    assert take_slot(key, -1, 0)  # given back once more (its socket closed twice)
    assert cache.get(key) == 0
    assert take_slot(key, +1, 1) and not take_slot(key, +1, 1)  # still one slot, not two


def test_one_name_guessed_from_many_addresses_is_slowed(user):
    for n in range(30):
        client = Client(REMOTE_ADDR=f"198.51.100.{n + 1}")
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    fresh = Client(REMOTE_ADDR="198.51.100.200")
    assert fresh.post("/accounts/login/", {"username": "alice", "password": "pw-alice-1"}).status_code == 429


def test_clearing_the_cache_leaves_the_other_keys_of_its_database():
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.set("celery-or-channels", "kept")
        cache.set("a-limit", 3)
        cache.clear()
        assert cache.get("a-limit") is None and client.get("celery-or-channels") == b"kept"
    finally:
        client.delete("celery-or-channels")
        client.close()


def test_a_redis_that_cannot_be_reached_opens_the_limits_instead_of_failing_pages(settings, api):
    settings.CACHES = {
        "default": {**settings.CACHES["default"], "LOCATION": "redis://127.0.0.1:1/0"}  # nothing listens
    }
    wrong = Client(REMOTE_ADDR="192.0.2.9").post("/join/", {"code": "WRONG234"})
    assert wrong.status_code == 400 and b"no open course has this code" in wrong.content
    assert api.get("/api/labs/").status_code == 200  # its throttle counts nothing meanwhile
    assert Client().post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200


def test_limits_counted_from_many_threads_keep_one_pool_of_connections():
    client = redis.Redis.from_url(settings.REDIS_URL)

    async def count_from_threads(times: int) -> None:
        for _ in range(times):  # as consumers do: a thread of their own each time
            await asyncio.to_thread(take_slot, "wirelab:consoles:threads", +1, 1000)

    try:
        asyncio.run(count_from_threads(5))
        before = redis_connections(client)
        asyncio.run(count_from_threads(100))
        assert redis_connections(client) - before <= 2
    finally:
        client.close()
