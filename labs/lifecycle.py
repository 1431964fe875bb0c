"""The web half of the life cycle: check a request, write its row, enqueue it after commit.

A deploy compiles the lab's document into its per-host spec; a destroy asks for the empty
spec; controls and commands carry their parameters. The lab host's half (`labs.hostside`)
carries them out. Nothing here touches a kernel or a container engine.
"""

from __future__ import annotations

import logging

from celery import current_app
from django.db import transaction

from topology.compiler import compile_lab
from topology.spec import LabHostSpec

from .models import Lab, LabStatus, Operation
from .store.documents import lab_assignments, lab_document

log = logging.getLogger(__name__)
RUN_OPERATION = "labs.tasks.run_operation"
RUN_CAPTURE = "labs.tasks.run_capture"


class OperationRefused(Exception):
    """A job that cannot be requested now; the message says why."""


def busy_with(lab: Lab) -> Operation | None:
    """The deploy or destroy of the lab not yet done, if any."""
    return lab.operations.filter(
        kind__in=Operation.LIFECYCLE, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).first()


def request_deploy(lab: Lab, user=None, enqueue: bool = True) -> Operation:
    """Compile the lab (refusing on validation errors) and queue its deploy.

    Compiling happens outside the transaction, so no lock is held meanwhile; the row is then
    locked only to check that the lab did not change and is not busy, and to write.
    """
    for _ in range(3):
        seen = Lab.objects.get(id=lab.id)
        specs, assignments = compile_lab(lab_document(seen), seen.uid, seen.labhost, lab_assignments(seen))
        with transaction.atomic():
            locked = Lab.objects.select_for_update().get(id=lab.id)
            if (busy := busy_with(locked)) is not None:
                raise OperationRefused(f"lab {locked.slug} is busy: {busy.kind} #{busy.id} is {busy.status}")
            if (locked.document, locked.assignments, locked.labhost) != (
                seen.document,
                seen.assignments,
                seen.labhost,
            ):
                continue  # edited while it compiled: compile what is stored now
            locked.assignments = assignments.as_dict()
            locked.status, locked.status_reason = LabStatus.DEPLOYING, "queued"
            locked.save(update_fields=["assignments", "status", "status_reason", "updated"])
            spec = specs[locked.labhost].to_dict()
            return _new(locked, Operation.Kind.DEPLOY, user, enqueue, spec=spec)
    raise OperationRefused(f"lab {lab.slug} kept changing while it was compiled; deploy it again")


@transaction.atomic
def request_destroy(lab: Lab, user=None, enqueue: bool = True) -> Operation:
    lab = Lab.objects.select_for_update().get(id=lab.id)
    if (busy := busy_with(lab)) is not None and busy.kind == Operation.Kind.DESTROY:
        raise OperationRefused(f"lab {lab.slug} is already being destroyed (#{busy.id})")
    lab.status, lab.status_reason = LabStatus.DESTROYING, "queued"
    lab.save(update_fields=["status", "status_reason", "updated"])
    spec = LabHostSpec.empty(lab.uid, lab.labhost).to_dict()
    return _new(lab, Operation.Kind.DESTROY, user, enqueue, spec=spec)


def request_job(lab: Lab, kind: str, params: dict, user=None, enqueue: bool = True) -> Operation:
    """Queue a control or a command on the lab's lab host."""
    with transaction.atomic():
        return _new(lab, kind, user, enqueue, params=params)


def _new(lab: Lab, kind: str, user, enqueue: bool, **fields) -> Operation:
    op = Operation.objects.create(lab=lab, kind=kind, labhost=lab.labhost, requested_by=user, **fields)
    if enqueue:
        transaction.on_commit(lambda: enqueue_operation(op.id, op.labhost))
    return op


def enqueue_operation(op_id: int, labhost: str, resume: bool = False) -> None:
    """Send a job to its lab host's queue, by task name: the web side never imports the engine."""
    current_app.send_task(RUN_OPERATION, args=[op_id], kwargs={"resume": resume}, queue=labhost)


def enqueue_capture(capture_id: int, labhost: str) -> None:
    transaction.on_commit(lambda: current_app.send_task(RUN_CAPTURE, args=[capture_id], queue=labhost))
