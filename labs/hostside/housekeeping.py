"""Upkeep on this lab host, now (`labhost gc`) and periodically in its worker:

- garbage collection: what belongs to labs that no longer exist (a lab deleted while its lab
  host was away, a crash in the middle of a deploy) is taken down, every WIRELAB_GC_INTERVAL s;
- the disk: a node that wrote more than WIRELAB_NODE_DISK_LIMIT_MB to its own filesystem is
  stopped, and so are one user's biggest writers while their nodes wrote more than
  WIRELAB_USER_DISK_LIMIT_MB in all (the lab host's disk is every lab's), every
  WIRELAB_DISK_CHECK_INTERVAL s;
- classrooms (`labs.classroom.upkeep`): idle labs taken down, labs of closed exercises ended,
  automatic checks, every WIRELAB_CLASSROOM_INTERVAL s;
- warm sandboxes (`worker/pool.py`): topped up to WIRELAB_POOL and what teachers prepared, a
  few at a time while no deploy runs, every WIRELAB_POOL_INTERVAL s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings
from django.db import connection

from worker.runtime import Written

from ..live.state import publish_status
from ..models import Lab, LabEvent, LabStatus
from .engine import this_labhost
from .jobs import note

log = logging.getLogger(__name__)
MIB = 2**20


def known_labs() -> set[str]:
    return set(Lab.objects.values_list("tag", flat=True))


def collect_orphans(progress=None, dry_run: bool = False) -> list[str]:
    """Take down (or with `dry_run` only name) this installation's labs that are not stored."""
    return this_labhost().gc(known_labs, settings.WIRELAB_LABHOST, progress=progress, dry_run=dry_run)


def stop_disk_hogs() -> list[str]:
    """Stop the nodes past the disk limits: a node's own, and what one user's nodes on this lab
    host wrote in all (their biggest writers first); each stop is told in its lab's history
    and status."""
    labhost = this_labhost()
    use = labhost.disk_use()
    owners = dict(Lab.objects.filter(tag__in={w.lab for w in use}).values_list("tag", "owner__username"))
    chosen = _past_limits([w for w in use if w.lab in owners], owners)
    stopped = set(labhost.stop_containers(list(chosen)))
    told = []
    for container_id, (written, reason) in chosen.items():
        if container_id in stopped:
            _told_stopped(written.lab, reason)
            told.append(reason)
    return told


def _past_limits(use: list[Written], owners: dict[str, str]) -> dict[str, tuple[Written, str]]:
    """The nodes to stop, by container, each with why."""
    node_limit, user_limit = settings.WIRELAB_NODE_DISK_LIMIT_MB, settings.WIRELAB_USER_DISK_LIMIT_MB
    again = "it was stopped (redeploy the lab to start it afresh)"
    chosen = {
        w.container_id: (w, f"{w.node} wrote {w.size // MIB} MiB to its own filesystem, more than the "
                            f"{node_limit} MiB a node may: {again}")
        for w in use
        if w.size > node_limit * MIB
    }  # fmt: skip
    for owner in sorted(set(owners.values())):
        theirs = sorted((w for w in use if owners[w.lab] == owner and w.container_id not in chosen),
                        key=lambda w: -w.size)  # fmt: skip
        total = sum(w.size for w in theirs)
        for w in theirs:
            if total <= user_limit * MIB:
                break
            reason = (f"{w.node} wrote the most of {owner}'s nodes, which wrote {total // MIB} MiB in all, "
                      f"more than the {user_limit} MiB one user's nodes may: {again}")  # fmt: skip
            chosen[w.container_id] = (w, reason)
            total -= w.size
    return chosen


def _told_stopped(tag: str, reason: str) -> None:
    lab = Lab.objects.filter(tag=tag).first()
    if lab is not None:
        note(lab.id, LabEvent.Kind.ERROR, reason)
        running = Lab.objects.filter(id=lab.id, status__in=[LabStatus.RUNNING, LabStatus.DEGRADED])
        if running.update(status=LabStatus.DEGRADED, status_reason=reason):
            publish_status(tag, LabStatus.DEGRADED, reason)


def every(interval: float, job: Callable[[], object], name: str) -> threading.Event | None:
    """Run `job` every `interval` seconds (the first time after one interval) in a thread of its
    own; set the returned event to stop. A failing round is logged and the next one tries."""
    if interval <= 0:
        return None
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                job()
            except Exception:
                log.exception("%s failed", name)
            finally:
                connection.close()

    threading.Thread(target=loop, name=f"wirelab-{name}", daemon=True).start()
    return stop


def _collect_and_log() -> None:
    removed = collect_orphans(progress=log.info)
    if removed:
        log.warning("garbage collection removed %d orphaned lab(s): %s", len(removed), removed)


def _classroom_round() -> None:
    from ..classroom.upkeep import classroom_round

    classroom_round()


def keep_warm() -> dict | None:
    """The warm pool's upkeep: topped up while no deploy runs (None when one ran from the start)."""
    if settings.WIRELAB_POOL_MAX <= 0:
        return None
    return this_labhost().keep_warm(settings.WIRELAB_POOL, settings.WIRELAB_POOL_MAX, progress=log.info)


def start_housekeeping() -> list[threading.Event]:
    started = [
        every(settings.WIRELAB_POOL_INTERVAL, keep_warm, "warm-pool"),
        every(settings.WIRELAB_GC_INTERVAL, _collect_and_log, "gc"),
        every(settings.WIRELAB_DISK_CHECK_INTERVAL, stop_disk_hogs, "disk-check"),
        every(settings.WIRELAB_CLASSROOM_INTERVAL, _classroom_round, "classroom"),
    ]
    return [event for event in started if event is not None]
