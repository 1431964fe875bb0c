"""Celery tasks on a lab host's queue: thin wrappers that hand a row's id to `labs.hostside`.

The web side sends them by name, so it never imports the engine; their bodies import it
only when they run, on the lab host.
"""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from . import queues
from .queues import queue_of

log = logging.getLogger(__name__)


@shared_task(name=queues.RUN_OPERATION, bind=True, max_retries=None)
def run_operation(self, op_id: int, resume: bool = False) -> str:
    from .hostside.jobs import WaitYourTurn, carry_out
    from .models import Operation

    try:
        return carry_out(op_id, resume=resume).status
    except WaitYourTurn:  # to the end of the queue: the others' jobs go first
        raise self.retry(countdown=settings.WIRELAB_FAIR_SHARE_RETRY_SECONDS) from None
    except Operation.DoesNotExist:  # deleted with its lab while the message waited
        log.info("operation %s no longer exists: nothing to do", op_id)
        return "gone"


@shared_task(name=queues.RUN_CAPTURE)
def run_capture(capture_id: int) -> str:
    from .hostside.jobs import run_capture as capture
    from .models import Capture

    try:
        return capture(capture_id).status
    except Capture.DoesNotExist:  # deleted with its lab while the message waited
        log.info("capture %s no longer exists: nothing to do", capture_id)
        return "gone"


@shared_task(name=queues.PREPARE_WARM)
def prepare_warm(counts: dict[str, int], seconds: float) -> dict[str, int]:
    """Keep at least `counts` warm sandboxes per image on this lab host for `seconds` (a class);
    the pool's upkeep starts them while no deploy runs."""
    from .hostside.engine import this_labhost

    this_labhost().prepare_warm(counts, seconds)
    return counts


@shared_task(name=queues.COLLECT)
def collect(dry_run: bool = False) -> list[str]:
    """Take down at once (or only name) what this lab host holds for labs that moved away or
    no longer exist; the outcome is kept on its record for the admin."""
    from django.utils import timezone

    from .hostside.housekeeping import collect_orphans
    from .models import LabHost

    lines: list[str] = []
    removed = collect_orphans(progress=lines.append, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    summary = f"{timezone.localtime():%Y-%m-%d %H:%M:%S}: {verb} {len(removed)} orphaned lab(s)"
    report = "\n".join([summary, *lines])[:2000]
    LabHost.objects.filter(name=settings.WIRELAB_LABHOST).update(gc_report=report)
    return removed


@worker_ready.connect
def on_worker_ready(sender=None, **kwargs) -> None:
    """A worker killed mid-operation finishes it when it comes back (converge is idempotent);
    queued jobs whose message was lost (a Redis restart) are sent again. Each worker does this
    for the queues it consumes; the one of the lab host's own queue then serves consoles."""
    from .hostside.consoles import start_console_relay
    from .hostside.housekeeping import start_housekeeping
    from .hostside.jobs import recover_captures
    from .hostside.lifecycle import unfinished
    from .hostside.presence import start_presence
    from .lifecycle import enqueue_operation

    labhost = settings.WIRELAB_LABHOST
    consumed = {q.name for q in sender.task_consumer.queues} if sender is not None else {labhost}
    if labhost in consumed:
        try:
            start_presence()
        except Exception:  # the database away: the worker serves its queue all the same
            log.exception("lab host %s could not register", labhost)
    for op_id, kind, interrupted in unfinished(labhost):
        if queue_of(labhost, kind) not in consumed:
            continue
        if interrupted:
            log.warning("resuming interrupted operation %s", op_id)
        enqueue_operation(op_id, labhost, resume=interrupted, kind=kind)
    if queue_of(labhost, "capture") in consumed:
        recover_captures(labhost)
    if labhost in consumed:
        start_console_relay(labhost)
        start_housekeeping()
