"""What keeps test processes apart: the suite runs on several pytest-xdist workers, which share
one Redis server, one /run and one Docker engine with each other and with any Wirelab
installation on the machine. Each worker, and every lab host process it starts, gets a Redis
database, a run directory and an installation mark of its own.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")  # a run without workers is worker 0
REDIS_DB = 1 + int(WORKER.removeprefix("gw"))  # 0 is an installation's
RUN_DIR = Path("/run/wirelab-test") / WORKER
INSTALLATION = f"engine-{WORKER}"  # the mark of what tests/worker's engines make


def _own_database(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{REDIS_DB}"))


def keep_apart(settings) -> None:
    """Point this process (settings read already) and its children (environment) at this
    worker's own Redis database and run directory; the database starts empty."""
    url = _own_database(settings.REDIS_URL)
    broker = _own_database(settings.CELERY_BROKER_URL)
    os.environ.update(REDIS_URL=url, CELERY_BROKER_URL=broker, WIRELAB_RUN_DIR=str(RUN_DIR))
    settings.REDIS_URL, settings.CELERY_BROKER_URL, settings.WIRELAB_RUN_DIR = url, broker, str(RUN_DIR)
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
