"""What keeps test processes apart: the suite runs on several pytest-xdist workers, which share
one Redis server, one /run and one Docker engine with each other, with another test run and with
any Wirelab installation on the machine. Each test process takes a free slot (1-15, held by a
lock for its life); the slot gives it, and every lab host process it starts, a Redis database,
a run directory and an installation mark of its own.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit, urlunsplit

import redis

SLOTS = Path("/run/wirelab-test")
_held: list[IO[str]] = []


def _free_slot() -> int:
    """The first slot no other test process holds (Redis has databases 1-15 besides an
    installation's 0); without a writable /run (`make check`: no kernel, no Redis) one by worker."""
    try:
        SLOTS.mkdir(parents=True, exist_ok=True)
    except OSError:
        return 1 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    for slot in range(1, 16):
        handle = open(SLOTS / f"slot-{slot}.lock", "w")  # noqa: SIM115 (held while this process lives)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _held.append(handle)
        return slot
    raise RuntimeError("all 15 test slots are held by other test processes on this machine")


SLOT = _free_slot()
REDIS_DB = SLOT
RUN_DIR = SLOTS / f"slot-{SLOT}"
INSTALLATION = f"engine-t{SLOT}"  # the mark of what tests/worker's engines make


def _own_database(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{REDIS_DB}"))


def keep_apart(settings) -> None:
    """Point this process (settings read already) and its children (environment) at this
    slot's Redis database and run directory; the database starts empty."""
    url = _own_database(settings.REDIS_URL)
    broker = _own_database(settings.CELERY_BROKER_URL)
    os.environ.update(REDIS_URL=url, CELERY_BROKER_URL=broker, WIRELAB_RUN_DIR=str(RUN_DIR))
    settings.REDIS_URL, settings.CELERY_BROKER_URL, settings.WIRELAB_RUN_DIR = url, broker, str(RUN_DIR)
    if settings.CACHES["default"]["BACKEND"] == "config.cache.LimitsCache":
        settings.CACHES["default"]["LOCATION"] = url
    for layer in settings.CHANNEL_LAYERS.values():
        for host in layer.get("CONFIG", {}).get("hosts", []):
            host["address"] = url
    if settings.WIRELAB_CHANNEL_LAYER == "redis":  # `make check` has no Redis
        client = redis.Redis.from_url(url, socket_connect_timeout=5)
        try:
            client.flushdb()  # what a killed run left on its queues
        finally:
            client.close()


def redis_connections(client: redis.Redis) -> int:
    """Connections open on this worker's Redis database (other workers' come and go)."""
    return sum(1 for c in client.client_list() if int(c.get("db", -1)) == REDIS_DB)
