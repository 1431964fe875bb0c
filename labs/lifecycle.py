"""The deploy/destroy life cycle: request an operation, carry it out, keep the lab's status.

A request compiles the lab and stores an Operation row; the row's id is enqueued on the
lab host's queue only after the transaction commits. `carry_out` runs on the lab host,
from the Celery task or in-process (`--here`).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from topology.addressing import Assignments
from topology.compiler import compile_lab
from topology.models import Lab, LabStatus
from topology.spec import LabHostSpec
from topology.store import lab_to_document
from worker.config import EngineConfig
from worker.converge import converge
from worker.errors import EngineError

from .live import state as live
from .models import LabEvent, Operation

log = logging.getLogger(__name__)


class OperationRefused(Exception):
    """A deploy or destroy that cannot be requested now; the message says why."""


def _busy(lab: Lab) -> Operation | None:
    return lab.operations.filter(status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]).first()


@transaction.atomic
def request_deploy(lab: Lab, user=None, enqueue: bool = True) -> Operation:
    """Compile the lab (refusing on validation errors) and queue its deploy."""
    lab = Lab.objects.select_for_update().get(id=lab.id)
    if (busy := _busy(lab)) is not None:
        raise OperationRefused(f"lab {lab.slug} is busy: {busy.kind} #{busy.id} is {busy.status}")
    previous = Assignments.from_dict(lab.assignments)
    specs, assignments = compile_lab(lab_to_document(lab), lab.uid, lab.labhost, previous)
    lab.assignments = assignments.as_dict()
    lab.status, lab.status_reason = LabStatus.DEPLOYING, "queued"
    lab.save(update_fields=["assignments", "status", "status_reason", "updated"])
    op = Operation.objects.create(
        lab=lab,
        kind=Operation.Kind.DEPLOY,
        labhost=lab.labhost,
        requested_by=user,
        spec=specs[lab.labhost].to_dict(),
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(op))
    return op


@transaction.atomic
def request_destroy(lab: Lab, user=None, enqueue: bool = True) -> Operation:
    lab = Lab.objects.select_for_update().get(id=lab.id)
    if (busy := _busy(lab)) is not None and busy.kind == Operation.Kind.DESTROY:
        raise OperationRefused(f"lab {lab.slug} is already being destroyed (#{busy.id})")
    lab.status, lab.status_reason = LabStatus.DESTROYING, "queued"
    lab.save(update_fields=["status", "status_reason", "updated"])
    op = Operation.objects.create(
        lab=lab,
        kind=Operation.Kind.DESTROY,
        labhost=lab.labhost,
        requested_by=user,
        spec=LabHostSpec.empty(lab.uid, lab.labhost).to_dict(),
    )
    if enqueue:
        transaction.on_commit(lambda: _enqueue(op))
    return op


def _enqueue(op: Operation) -> None:
    from .tasks import run_operation

    run_operation.apply_async(args=[op.id], queue=op.labhost)


def _append(op: Operation, line: str) -> None:
    op.log += line + "\n"
    Operation.objects.filter(id=op.id).update(log=op.log)


def _last_good_spec(op: Operation) -> LabHostSpec:
    """What to go back to when a deploy fails: the last deploy that worked, else nothing."""
    good = (
        Operation.objects.filter(lab=op.lab, status=Operation.Status.SUCCEEDED, id__lt=op.id)
        .order_by("-id")
        .first()
    )
    if good is not None and good.kind == Operation.Kind.DEPLOY:
        return LabHostSpec.from_dict(good.spec)
    return LabHostSpec.empty(op.lab.uid, op.labhost)


def carry_out(
    op_id: int, config: EngineConfig | None = None, progress=None, resume: bool = False
) -> Operation:
    """Converge this lab host to the operation's spec and record the outcome.

    An operation is claimed once (queued -> running); `resume` also takes one left
    running by a worker that died, which is safe because converging is idempotent.
    """
    claimed = Operation.objects.filter(id=op_id, status=Operation.Status.QUEUED).update(
        status=Operation.Status.RUNNING, started=timezone.now()
    )
    op = Operation.objects.select_related("lab").get(id=op_id)
    if not claimed and not (resume and op.status == Operation.Status.RUNNING):
        return op
    lab = op.lab
    if resume and not claimed:
        _append(op, "resuming after the lab host's worker stopped")
    Lab.objects.filter(id=lab.id).update(status_reason="in progress")

    def say(line: str) -> None:
        _append(op, line)
        if progress:
            progress(line)

    try:
        report = converge(LabHostSpec.from_dict(op.spec), config, progress=say)
    except Exception as exc:  # every failure is recorded; the lab goes back to what worked
        reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, EngineError):
            log.exception("operation %s failed", op.id)
        say(f"failed: {reason}")
        if op.kind == Operation.Kind.DEPLOY:
            say("undoing the partial deploy")
            try:
                converge(_last_good_spec(op), config, progress=say)
            except Exception as undo_exc:
                say(f"could not undo: {undo_exc}")
        _finish(op, Operation.Status.FAILED, error=reason)
        _set_status(lab, LabStatus.FAILED, reason)
        return op
    op.result = report.as_dict()
    _finish(op, Operation.Status.SUCCEEDED)
    if op.kind == Operation.Kind.DESTROY:
        _set_status(lab, LabStatus.STOPPED, "")
    elif report.failed_nodes:
        reason = "; ".join(f"{n}: {s.reason}" for n, s in report.failed_nodes.items())
        _set_status(lab, LabStatus.DEGRADED, reason)
    else:
        _set_status(lab, LabStatus.RUNNING, "")
    return op


def _finish(op: Operation, status: str, error: str = "") -> None:
    op.status, op.error, op.finished = status, error, timezone.now()
    op.save(update_fields=["status", "error", "finished", "result"])
    changes = len(op.result.get("changes", [])) if op.result else 0
    outcome = f"failed: {error}" if error else f"done ({changes} changes)"
    LabEvent.objects.create(
        lab_id=op.lab_id, kind=LabEvent.Kind.DEPLOY, message=f"{op.kind} #{op.id} {outcome}"[:1000]
    )


def _set_status(lab: Lab, status: str, reason: str) -> None:
    Lab.objects.filter(id=lab.id).update(status=status, status_reason=reason[:500], updated=timezone.now())
    try:
        if status == LabStatus.STOPPED:
            live.clear(lab.uid)
        live.publish_now(lab.uid, [{"type": "lab.status", "status": status, "reason": reason[:500]}])
    except Exception as exc:  # live state is a courtesy; the row above is the truth
        log.warning("could not publish the status of lab %s: %s", lab.slug, exc)


def unfinished(labhost: str) -> list[tuple[int, bool]]:
    """Operations of this lab host not yet done: (id, was it interrupted while running)."""
    ops = Operation.objects.filter(
        labhost=labhost, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).order_by("id")
    return [(op.id, op.status == Operation.Status.RUNNING) for op in ops]
