"""Deploys and destroys on this lab host: converge to the row's spec, stream the progress to
the lab's WebSocket group, and keep the row and the lab's status truthful."""

from __future__ import annotations

import logging
import threading
import time

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from topology.spec import LabHostSpec
from worker.labhost import Engine, EngineError, EngineUnreachable, Stopped

from .. import stitching
from ..live import state as live
from ..models import Lab, LabEvent, LabStatus, Operation
from .durable import DATABASE_AWAY, forget_connection, until_stored

log = logging.getLogger(__name__)
PREEMPTED = "a destroy of the lab was asked for"
UNDO_WAITS = (2, 4, 8, 16, 30)  # seconds between tries while the container engine is away


def _last_good_spec(op: Operation) -> LabHostSpec:
    """What to go back to when a deploy fails: the last deploy that worked, else nothing."""
    good = (
        Operation.objects.filter(
            lab=op.lab,
            labhost=op.labhost,
            kind__in=Operation.LIFECYCLE,
            status=Operation.Status.SUCCEEDED,
            id__lt=op.id,
        )
        .order_by("-id")
        .first()
    )
    if good is not None and good.kind == Operation.Kind.DEPLOY and good.spec.get("lab") == op.spec.get("lab"):
        return LabHostSpec.from_dict(good.spec)  # (under another tag, before a move, it is another's)
    return LabHostSpec.empty(op.lab.tag, op.labhost)


IMAGE_WORK = ("pulling image", "pulled image", "building image")


class _Progress:
    """Each line goes to the row's log, the caller, and the lab's live group."""

    def __init__(self, op: Operation, echo=None):
        self.op, self.echo = op, echo
        self.owner = threading.get_ident()
        self.lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self.lock:  # the engine reports from its own worker threads too
            self.op.log += line + "\n"
            try:
                Operation.objects.filter(id=self.op.id).update(log=self.op.log)
            except DATABASE_AWAY as exc:  # the log is kept here and written with the outcome
                log.warning("could not write the log of operation %s: %s", self.op.id, exc)
                forget_connection()
            if threading.get_ident() != self.owner:
                connection.close()  # that thread's own connection: it would outlive the thread
        if self.echo:
            self.echo(line)
        self.publish(line)
        if line.startswith(IMAGE_WORK):  # a minute's work: said beside the diagram too
            self.reason(line)

    def reason(self, line: str) -> None:
        try:
            Lab.objects.filter(id=self.op.lab_id, status=LabStatus.DEPLOYING).update(status_reason=line[:500])
            live.publish_status(self.op.lab.tag, LabStatus.DEPLOYING, line)
        except Exception as exc:  # a courtesy, as the live progress is
            log.debug("could not show the image progress of operation %s: %s", self.op.id, exc)

    def publish(self, line: str = "") -> None:
        event = {"type": "operation", "id": self.op.id, "kind": self.op.kind, "status": self.op.status,
                 "line": line, "error": self.op.error}  # fmt: skip
        try:
            live.publish_now(self.op.lab.tag, [event])
        except Exception as exc:  # live progress is a courtesy; the row is the truth
            log.debug("could not publish progress of operation %s: %s", self.op.id, exc)


class _StopCheck:
    """Why a deploy or destroy should stop now: its deadline passed (counted from when it was
    first taken up, across restarts), or, for a deploy, a destroy of its lab was asked for
    since. Asked before each step, from any engine thread; reads the database at most once a
    second."""

    def __init__(self, op: Operation):
        self.op, self.reason = op, ""
        self.limit = settings.WIRELAB_OPERATION_DEADLINE
        self.started = op.started or timezone.now()
        self.lock, self.next_look = threading.Lock(), 0.0
        self.owner = threading.get_ident()

    def __call__(self) -> str:
        if not self.reason and (timezone.now() - self.started).total_seconds() > self.limit:
            self.reason = f"it took longer than {self.limit:g} s (WIRELAB_OPERATION_DEADLINE)"
        if not self.reason and self.op.kind == Operation.Kind.DEPLOY:
            with self.lock:
                if time.monotonic() >= self.next_look:
                    self.next_look = time.monotonic() + 1.0
                    if self._destroy_asked():
                        self.reason = PREEMPTED
        return self.reason

    def _destroy_asked(self) -> bool:
        try:
            return Operation.objects.filter(
                lab_id=self.op.lab_id, kind=Operation.Kind.DESTROY, id__gt=self.op.id
            ).exists()
        except DATABASE_AWAY:
            forget_connection()
            return False
        finally:
            if threading.get_ident() != self.owner:
                connection.close()  # that thread's own connection: it would outlive the thread


def converge_operation(
    op: Operation, labhost: Engine, echo=None, resumed: bool = False, settle: bool = True
) -> Operation:
    lab = op.lab
    say = _Progress(op, echo)
    if resumed:
        say("resuming after the lab host's worker stopped")
    until_stored(lambda: Lab.objects.filter(id=lab.id).update(status_reason="in progress"), "starting")
    stop = _StopCheck(op)
    try:
        report = labhost.converge(LabHostSpec.from_dict(op.spec), progress=say, stop=stop, settle=settle)
    except Exception as exc:  # every failure is recorded; the lab goes back to what worked
        reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, EngineError):
            log.exception("operation %s failed", op.id)
        if isinstance(exc, Stopped) and stop.reason == PREEMPTED:
            say(f"stopped: {PREEMPTED}; it removes what was made")
            _finish(op, Operation.Status.FAILED, None, "", error=f"stopped: {PREEMPTED}")
            say.publish()
            return op
        say(f"failed: {reason}")
        if op.kind == Operation.Kind.DEPLOY:
            say("undoing the partial deploy")
            _undo(op, labhost, say)
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
    pins = report.images if op.kind == Operation.Kind.DEPLOY else None
    _finish(op, Operation.Status.SUCCEEDED, status, reason, pins=pins)
    say.publish()
    return op


def _undo(op: Operation, labhost: Engine, say: _Progress) -> None:
    """Go back to the last deploy that worked; while the container engine is away (a
    restart), wait for it a while rather than leave the partial deploy behind."""
    for wait in UNDO_WAITS:
        try:
            labhost.converge(_last_good_spec(op), progress=say)
            return
        except EngineUnreachable as exc:
            say(f"could not undo yet ({exc}); trying again in {wait} s")
            time.sleep(wait)
        except Exception as exc:
            say(f"could not undo: {exc}")
            return
    say("could not undo: the Docker engine stayed away; destroy the lab to remove what is left")


def _finish(
    op: Operation, status: str, lab_status: str | None, reason: str, *, error: str = "", pins=None
) -> None:
    """The row's outcome and the lab's status in one transaction: a worker dying in between
    leaves both as they were (and the operation is resumed), never one without the other.
    While the database is away, the outcome waits here and is written when it is back.
    (`lab_status` None: the lab's status is another operation's to set; `pins`: the digests a
    deploy ran its images from, kept with the lab's assignments for its next deploys.)

    A part of a lab spanning lab hosts keeps its own outcome; the last part to finish sets the
    lab's status from all of theirs (`_group_outcome`)."""
    op.status, op.error, op.finished = status, error, timezone.now()
    changes = len(op.result.get("changes", [])) if op.result else 0
    outcome = f"failed: {error}" if error else f"done ({changes} changes)"
    grouped = "parts" in op.params or "part_of" in op.params
    if op.params.get("undo_of"):
        lab_status = None  # it takes a part back after its lab's deploy failed elsewhere
    said: list[tuple[str, str]] = []

    def write() -> None:
        said.clear()
        with transaction.atomic():
            lab = Lab.objects.select_for_update().get(id=op.lab_id)  # parts finish one at a time
            status_now, reason_now = lab_status, reason
            if grouped:
                op.result = {**(op.result or {}), "outcome": [lab_status, reason]}
            if pins is not None:
                _keep_pins(lab, pins, merge=grouped)
            op.save(update_fields=["status", "error", "finished", "result", "log"])
            if grouped:
                status_now, reason_now = _group_outcome(op)
            if status_now is not None and not (grouped and lab.status == LabStatus.LOST):
                Lab.objects.filter(id=op.lab_id).update(
                    status=status_now, status_reason=reason_now[:500], updated=timezone.now()
                )
                said.append((status_now, reason_now))
            if status_now == LabStatus.STOPPED:
                Lab.objects.filter(id=op.lab_id).update(parts={})
                stitching.release(lab)
            LabEvent.objects.create(
                lab_id=op.lab_id, kind=LabEvent.Kind.DEPLOY, message=f"{op.kind} #{op.id} {outcome}"[:1000]
            )

    until_stored(write, f"recording the outcome of {op.kind} #{op.id}")
    by = _requester(op)
    for status_now, reason_now in said:
        live.publish_status(op.lab.tag, status_now, reason_now, by)


def _requester(op: Operation) -> str:
    """Who asked for the operation, by user name ("" for the lab host's own upkeep)."""
    try:
        return op.requested_by.username if op.requested_by else ""
    except Exception:  # the user is gone, or the database is: the status is told without a name
        return ""


SEVERITY = [LabStatus.FAILED, LabStatus.DEGRADED, LabStatus.RUNNING, LabStatus.STOPPED]


def _group_outcome(op: Operation) -> tuple[str | None, str]:
    """The lab's status once every part of its deploy or destroy is done (None while one is not):
    the worst of theirs, with each part's reason; a deploy that failed anywhere takes the parts
    that worked back to what they ran before."""
    head = op if "parts" in op.params else Operation.objects.get(id=op.params["part_of"])
    members = [head, *Operation.objects.filter(id__in=head.params.get("parts", [])).order_by("id")]
    if any(not m.done for m in members):
        return None, ""
    outcomes = []
    for member in members:
        status, reason = (member.result or {}).get("outcome") or [LabStatus.FAILED, member.error]
        outcomes.append((status or LabStatus.FAILED, reason))
    worst = min((status for status, _ in outcomes), key=SEVERITY.index)
    reason = "; ".join(f"{m.labhost}: {r}" for m, (_, r) in zip(members, outcomes, strict=True) if r)
    if head.kind == Operation.Kind.DEPLOY and worst == LabStatus.FAILED:
        for member in members:
            if member.status == Operation.Status.SUCCEEDED:
                _take_back(member)
    return worst, reason


def _take_back(part: Operation) -> None:
    """Converge a part whose deploy worked back to what its lab host ran before (or nothing)."""
    from ..lifecycle import enqueue_operation

    undo = Operation.objects.create(
        lab_id=part.lab_id, kind=Operation.Kind.DEPLOY, labhost=part.labhost,
        spec=_last_good_spec(part).to_dict(), params={"undo_of": part.id},
    )  # fmt: skip
    transaction.on_commit(lambda: enqueue_operation(undo.id, undo.labhost, kind=undo.kind))


def _keep_pins(lab: Lab, pins: dict, merge: bool = False) -> None:
    """The digests the lab's images ran from (a part's added to the others' when it spans)."""
    kept = (lab.assignments or {}).get("images", {})
    wanted = {**kept, **pins} if merge else pins
    if kept != wanted:
        lab.assignments = {**(lab.assignments or {}), "images": wanted}
        lab.save(update_fields=["assignments"])


def unfinished(labhost: str) -> list[tuple[int, str, bool]]:
    """Jobs of this lab host not yet done: (id, kind, was it interrupted while running)."""
    ops = Operation.objects.filter(
        labhost=labhost, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).order_by("id")
    return [(op.id, op.kind, op.status == Operation.Status.RUNNING) for op in ops]
