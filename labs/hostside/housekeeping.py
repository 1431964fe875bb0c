"""Garbage collection on this lab host: what belongs to labs that no longer exist (a lab
deleted while its lab host was away, a crash in the middle of a deploy) is taken down, now
(`labhost gc`) and every WIRELAB_GC_INTERVAL seconds by the lab host's worker."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import connection

from ..models import Lab
from .engine import this_labhost

log = logging.getLogger(__name__)


def known_labs() -> set[str]:
    return set(Lab.objects.values_list("uid", flat=True))


def collect_orphans(progress=None, dry_run: bool = False) -> list[str]:
    """Take down (or with `dry_run` only name) this installation's labs that are not stored."""
    return this_labhost().gc(known_labs, settings.WIRELAB_LABHOST, progress=progress, dry_run=dry_run)


def start_periodic_gc(interval: float) -> threading.Event | None:
    """Collect every `interval` seconds (the first time after one interval); set the returned
    event to stop."""
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                removed = collect_orphans(progress=log.info)
                if removed:
                    log.warning("garbage collection removed %d orphaned lab(s): %s", len(removed), removed)
            except Exception:  # the next round tries again
                log.exception("garbage collection failed")
            finally:
                connection.close()

    threading.Thread(target=loop, name="wirelab-gc", daemon=True).start()
    return stop
