"""Deploys and destroys on this lab host: converge to the row's spec, stream the progress to
the lab's WebSocket group, and keep the row and the lab's status truthful."""

from __future__ import annotations

import logging
import threading

from django.db import connection, transaction
from django.utils import timezone

from topology.spec import LabHostSpec
from worker.labhost import EngineError, LabHost

from ..live import state as live
from ..models import Lab, LabEvent, LabStatus, Operation

log = logging.getLogger(__name__)


def _last_good_spec(op: Operation) -> LabHostSpec:
    """What to go back to when a deploy fails: the last deploy that worked, else nothing."""
    good = (
        Operation.objects.filter(
            lab=op.lab, kind__in=Operation.LIFECYCLE, status=Operation.Status.SUCCEEDED, id__lt=op.id
        )
        .order_by("-id")
        .first()
    )
    if good is not None and good.kind == Operation.Kind.DEPLOY:
        return LabHostSpec.from_dict(good.spec)
    return LabHostSpec.empty(op.lab.uid, op.labhost)


class _Progress:
    """Each line goes to the row's log, the caller, and the lab's live group."""

    def __init__(self, op: Operation, echo=None):
        self.op, self.echo = op, echo
        self.owner = threading.get_ident()
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock:  # the engine reports from its own worker threads too
            self.op.log += line + "\n"
            Operation.objects.filter(id=self.op.id).update(log=self.op.log)
            if threading.get_ident() != self.owner:
                connection.close()  # that thread's own connection: it would outlive the thread
        if self.echo:
            self.echo(line)
        self.publish(line)

    def publish(self, line: str = "") -> None:
        event = {"type": "operation", "id": self.op.id, "kind": self.op.kind, "status": self.op.status,
                 "line": line, "error": self.op.error}  # fmt: skip
        try:
            live.publish_now(self.op.lab.uid, [event])
        except Exception as exc:  # live progress is a courtesy; the row is the truth
            log.debug("could not publish progress of operation %s: %s", self.op.id, exc)


def converge_operation(op: Operation, labhost: LabHost, echo=None, resumed: bool = False) -> Operation:
    lab = op.lab
    say = _Progress(op, echo)
    if resumed:
        say("resuming after the lab host's worker stopped")
    Lab.objects.filter(id=lab.id).update(status_reason="in progress")
    try:
        report = labhost.converge(LabHostSpec.from_dict(op.spec), progress=say)
    except Exception as exc:  # every failure is recorded; the lab goes back to what worked
        reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, EngineError):
            log.exception("operation %s failed", op.id)
        say(f"failed: {reason}")
        if op.kind == Operation.Kind.DEPLOY:
            say("undoing the partial deploy")
            try:
                labhost.converge(_last_good_spec(op), progress=say)
            except Exception as undo_exc:
                say(f"could not undo: {undo_exc}")
        _finish(op, Operation.Status.FAILED, LabStatus.FAILED, reason, error=reason)
        say.publish()
        return op
    op.result = report.as_dict()
    if op.kind == Operation.Kind.DESTROY:
        status, reason = LabStatus.STOPPED, ""
    elif report.failed_nodes:
        status = LabStatus.DEGRADED
        reason = "; ".join(f"{n}: {s.reason}" for n, s in report.failed_nodes.items())
    else:
        status, reason = LabStatus.RUNNING, ""
    _finish(op, Operation.Status.SUCCEEDED, status, reason)
    say.publish()
    return op


def _finish(op: Operation, status: str, lab_status: str, reason: str, error: str = "") -> None:
    """The row's outcome and the lab's status in one transaction: a worker dying in between
    leaves both as they were (and the operation is resumed), never one without the other."""
    op.status, op.error, op.finished = status, error, timezone.now()
    changes = len(op.result.get("changes", [])) if op.result else 0
    outcome = f"failed: {error}" if error else f"done ({changes} changes)"
    with transaction.atomic():
        Lab.objects.filter(id=op.lab_id).update(
            status=lab_status, status_reason=reason[:500], updated=timezone.now()
        )
        op.save(update_fields=["status", "error", "finished", "result"])
        LabEvent.objects.create(
            lab_id=op.lab_id, kind=LabEvent.Kind.DEPLOY, message=f"{op.kind} #{op.id} {outcome}"[:1000]
        )
    _publish_status(op.lab, lab_status, reason)


def _publish_status(lab: Lab, status: str, reason: str) -> None:
    try:
        if status == LabStatus.STOPPED:
            live.clear(lab.uid)
        live.publish_now(lab.uid, [{"type": "lab.status", "status": status, "reason": reason[:500]}])
    except Exception as exc:  # live state is a courtesy; the row above is the truth
        log.warning("could not publish the status of lab %s: %s", lab.slug, exc)


def unfinished(labhost: str) -> list[tuple[int, bool]]:
    """Jobs of this lab host not yet done: (id, was it interrupted while running)."""
    ops = Operation.objects.filter(
        labhost=labhost, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).order_by("id")
    return [(op.id, op.status == Operation.Status.RUNNING) for op in ops]
