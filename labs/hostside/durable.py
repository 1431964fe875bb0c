"""Writes the lab host must not lose: an operation's outcome, its claim, its history.

When the database goes away for a while (a restart, a failover, a network cut) the worker
keeps the work it did and writes it once the database answers again, instead of leaving an
operation 'running' for ever.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection

log = logging.getLogger(__name__)
T = TypeVar("T")
DATABASE_AWAY = (OperationalError, InterfaceError)


def forget_connection() -> None:
    """Drop this thread's database connection so that the next query opens a fresh one."""
    with contextlib.suppress(Exception):
        connection.close()


def until_stored(write: Callable[[], T], what: str, patience: float | None = None) -> T:
    """Run `write` (one query or one transaction), trying again while the database is away,
    for up to `patience` seconds (WIRELAB_DATABASE_PATIENCE); then the error is raised."""
    patience = settings.WIRELAB_DATABASE_PATIENCE if patience is None else patience
    deadline, delay = time.monotonic() + patience, 0.25
    while True:
        try:
            return write()
        except DATABASE_AWAY as exc:
            if connection.in_atomic_block:
                raise  # the enclosing transaction is what is tried again
            forget_connection()
            if time.monotonic() + delay > deadline:
                raise
            log.warning("the database is away while %s (%s); trying again in %.1f s", what, exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
