"""Celery tasks: thin wrappers that hand an operation's id to the life cycle."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from . import lifecycle

log = logging.getLogger(__name__)


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_operation(op_id: int) -> str:
    return lifecycle.carry_out(op_id).status


@worker_ready.connect
def resume_interrupted(sender=None, **kwargs) -> None:
    """A worker killed mid-operation finishes it when it comes back (converge is idempotent)."""
    for op_id in lifecycle.interrupted(settings.WIRELAB_LABHOST):
        log.warning("resuming interrupted operation %s", op_id)
        run_operation.apply_async(args=[op_id], queue=settings.WIRELAB_LABHOST)
