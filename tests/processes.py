"""Wirelab's own processes started by tests: a Celery lab-host worker, and the test
database's URL for processes that must share it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

from labs.queues import queues_of


def shared_database_url() -> str:
    s = connection.settings_dict
    host, port = s["HOST"] or "127.0.0.1", s["PORT"] or 5432
    return f"postgres://{s['USER']}:{s['PASSWORD']}@{host}:{port}/{s['NAME']}"


def start_worker(
    queue: str, log: Path | None = None, shared_database: bool = True, env: dict | None = None
) -> subprocess.Popen:
    """A Celery worker for lab host `queue` (and its slow queue), in a session of its own (so its group can be killed);
    `env` overrides its environment (e.g. to reach a service through a `tests.faults.Outage`)."""
    overrides = env or {}
    env = dict(os.environ, WIRELAB_LABHOST=queue)
    if shared_database:
        env["DATABASE_URL"] = shared_database_url()
    env.update(overrides)
    command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", ",".join(queues_of(queue)), "-n", f"{queue}@%h",
               "--pool", "solo", "--loglevel", "INFO"]  # fmt: skip
    output = open(log, "a") if log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
