"""Celery tasks: thin wrappers that hand an operation's id to the life cycle."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings

from . import controls, lifecycle

log = logging.getLogger(__name__)


@shared_task
def run_operation(op_id: int, resume: bool = False) -> str:
    return lifecycle.carry_out(op_id, resume=resume).status


@worker_ready.connect
def resume_unfinished(sender=None, **kwargs) -> None:
    """A worker killed mid-operation finishes it when it comes back (converge is idempotent);
    queued operations whose message was lost (a Redis restart) are sent again."""
    for op_id, interrupted in lifecycle.unfinished(settings.WIRELAB_LABHOST):
        if interrupted:
            log.warning("resuming interrupted operation %s", op_id)
        run_operation.apply_async(
            args=[op_id], kwargs={"resume": interrupted}, queue=settings.WIRELAB_LABHOST
        )


@shared_task
def cable_task(lab_id: int, ends: list, plugged: bool) -> None:
    controls.apply_cable(lab_id, ends, plugged)


@shared_task
def impair_task(lab_id: int, ends: list, values: dict) -> None:
    controls.apply_impairment(lab_id, ends, values)


@shared_task
def node_task(lab_id: int, node: str, action: str) -> None:
    controls.apply_node_action(lab_id, node, action)


@shared_task
def capture_task(capture_id: int) -> None:
    controls.apply_capture(capture_id)
