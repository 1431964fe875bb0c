"""Carrying out jobs on this lab host: deploys and destroys (converge to the row's spec),
controls and node actions (on the last deployed spec), commands and captures.

A job is claimed once (queued -> running); `resume` also takes a deploy or destroy left
running by a worker that died, which is safe because converging is idempotent.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from topology.spec import LabHostSpec
from worker import capture
from worker.labhost import Engine, EngineError

from ..live.state import publish_now
from ..models import Capture, Lab, LabEvent, LabStatus, Operation
from ..queues import queue_of, share
from .durable import until_stored
from .engine import this_labhost
from .lifecycle import converge_operation

log = logging.getLogger(__name__)
EXEC_OUTPUT_LIMIT = 256 * 1024
MAX_ATTEMPTS = 3


def note(lab_id: int, kind: str, message: str) -> None:
    until_stored(
        lambda: LabEvent.objects.create(lab_id=lab_id, kind=kind, message=message[:1000]), "noting an event"
    )


class WaitYourTurn(Exception):
    """The job's requester already has their share of this lab host's workers busy: it goes
    back to the end of the queue, so that one user's many jobs never hold up everyone else's."""


def _has_share(op: Operation) -> bool:
    """Fewer than WIRELAB_LABHOST_JOBS_PER_USER of the requester's jobs of the same queue run
    on this lab host now (staff, and jobs nobody asked for, are not counted)."""
    who = op.requested_by
    if who is None or who.is_staff:
        return True
    get_user_model().objects.select_for_update().filter(id=who.id).first()  # one claim per user at a time
    same_queue = [kind for kind in Operation.Kind.values if queue_of("", kind) == queue_of("", op.kind)]
    running = Operation.objects.filter(
        requested_by=who, labhost=op.labhost, status=Operation.Status.RUNNING, kind__in=same_queue
    )
    return running.count() < share(op.kind, settings.WIRELAB_LABHOST_JOBS_PER_USER)


@transaction.atomic  # taken up and read back together, so that trying again after a cut is safe
def _claim(op_id: int, resume: bool) -> Operation | None:
    op = Operation.objects.select_related("lab", "requested_by").get(id=op_id)
    if op.status == Operation.Status.QUEUED and not _has_share(op):
        raise WaitYourTurn(f"operation {op_id} waits for its requester's other jobs")
    claimed = Operation.objects.filter(id=op_id, status=Operation.Status.QUEUED).update(
        status=Operation.Status.RUNNING, started=timezone.now(), attempts=F("attempts") + 1
    )
    op.refresh_from_db()
    if claimed:
        return op
    if resume and op.status == Operation.Status.RUNNING:
        if op.kind not in Operation.LIFECYCLE:
            _finish(op, Operation.Status.FAILED, "the lab host's worker stopped while it ran")
            return None
        Operation.objects.filter(id=op_id).update(attempts=F("attempts") + 1)
        op.refresh_from_db()
        if op.attempts > MAX_ATTEMPTS:  # it takes the worker down each time: stop trying
            _give_up(op)
            return None
        return op
    return None


def _give_up(op: Operation) -> None:
    reason = f"gave up after {MAX_ATTEMPTS} attempts: the lab host's worker stopped during each"
    _finish(op, Operation.Status.FAILED, reason)
    Lab.objects.filter(id=op.lab_id).update(status=LabStatus.FAILED, status_reason=reason)
    note(op.lab_id, LabEvent.Kind.ERROR, f"{op.kind} #{op.id}: {reason}")


def carry_out(
    op_id: int, labhost: Engine | None = None, progress=None, resume: bool = False, settle: bool = True
) -> Operation:
    """Do the job of row `op_id` and record its outcome in the row. Raises WaitYourTurn,
    leaving the row queued, when its requester has their share of the workers busy. (`settle`:
    see `Engine.converge`.)"""
    op = until_stored(lambda: _claim(op_id, resume), f"taking up operation {op_id}")
    if op is None:
        return Operation.objects.get(id=op_id)
    labhost = labhost or this_labhost()
    if op.kind in Operation.LIFECYCLE:
        return converge_operation(op, labhost, progress, resumed=resume, settle=settle)
    try:
        result = CONTROLS[Operation.Kind(op.kind)](op, labhost)
    except EngineError as exc:
        note(op.lab_id, LabEvent.Kind.ERROR, f"{op.kind}: {exc}")
        _finish(op, Operation.Status.FAILED, str(exc))
    except Exception as exc:  # a job always ends in a truthful state
        log.exception("job %s failed", op.id)
        _finish(op, Operation.Status.FAILED, f"{type(exc).__name__}: {exc}")
    else:
        op.result = result or {}
        _finish(op, Operation.Status.SUCCEEDED)
    return op


def _finish(op: Operation, status: str, error: str = "") -> None:
    op.status, op.error, op.finished = status, error[:2000], timezone.now()
    until_stored(
        lambda: op.save(update_fields=["status", "error", "finished", "result", "log"]),
        f"recording the outcome of {op.kind} #{op.id}",
    )
    said = {
        "type": "operation",
        "id": op.id,
        "kind": op.kind,
        "status": status,
        "line": "",
        "error": op.error,
    }
    _announce(op.lab.tag, said)


def _announce(lab_tag: str, event: dict) -> None:
    """A job's end to the lab's open pages, which wait for it on their socket (the row is the
    truth, read when the socket is away: this is a courtesy)."""
    try:
        publish_now(lab_tag, [event])
    except Exception as exc:
        log.debug("could not announce the end of a job of lab %s: %s", lab_tag, exc)


def deployed_spec(lab: Lab, labhost: str) -> LabHostSpec:
    """The spec of the lab's last successful deploy on `labhost`, which controls act on."""
    if lab.status not in (LabStatus.RUNNING, LabStatus.DEGRADED):
        raise EngineError(f"lab {lab.slug} is {lab.status}")
    done = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED)
    op = done.filter(labhost=labhost).first()
    if op is None:
        raise EngineError(f"lab {lab.slug} has not been deployed")
    return LabHostSpec.from_dict(op.spec)


def _cable(op: Operation, labhost: Engine) -> dict:
    spec, plugged = deployed_spec(op.lab, op.labhost), bool(op.params["plugged"])
    done = []
    for node, iface in op.params["ends"]:
        labhost.cable(spec, node, iface, plugged)
        note(op.lab_id, LabEvent.Kind.LINK, f"{node}:{iface} cable {'plugged' if plugged else 'pulled'}")
        done.append(f"{node}:{iface}")
    return {"ends": done}


def _impair(op: Operation, labhost: Engine) -> dict:
    spec, values = deployed_spec(op.lab, op.labhost), op.params["values"]
    described = ", ".join(f"{k} {v}" for k, v in values.items() if v) or "none"
    errors = []
    for node, iface in op.params["ends"]:
        error = ""
        try:
            labhost.impair(spec, node, iface, values)
            note(op.lab_id, LabEvent.Kind.IMPAIRMENT, f"{node}:{iface}: {described}")
        except EngineError as exc:
            error = str(exc)
            errors.append(f"{node}:{iface}: {exc}")
            note(op.lab_id, LabEvent.Kind.ERROR, f"{node}:{iface} impairment: {exc}")
        publish_now(
            spec.lab, [{"type": "impairment", "node": node, "iface": iface, **values, "error": error}]
        )
    if errors:
        raise EngineError("; ".join(errors))
    return {"values": values}


def _node(op: Operation, labhost: Engine) -> dict:
    node, action = op.params["node"], op.params["action"]
    changes = labhost.node_action(deployed_spec(op.lab, op.labhost), node, action)
    note(op.lab_id, LabEvent.Kind.NODE, f"{node}: {action}")
    if changes:
        note(op.lab_id, LabEvent.Kind.NODE, f"{node}: rewired ({len(changes)} changes)")
    return {"changes": changes}


def _exec(op: Operation, labhost: Engine) -> dict:
    params = op.params
    timeout = min(float(params.get("timeout", 60)), 600.0)
    code, output = labhost.exec(
        op.lab.tag, params["node"], list(params["command"]), timeout, EXEC_OUTPUT_LIMIT
    )
    return {"exit_code": code, "output": output.replace("\x00", "")}


def _nat(op: Operation, labhost: Engine) -> dict:
    """An emulated host's NAT rules with their counters and its tracked connections."""
    return labhost.nat(op.lab.tag, op.params["node"])


def _trace(op: Operation, labhost: Engine) -> dict:
    """A packet's journey from a node: its hops, rewrites and where it stopped."""
    params = op.params
    spec = deployed_spec(op.lab, op.labhost)
    probe = {
        "protocol": params["protocol"],
        "port": params.get("port") or 0,
        "timeout": params.get("timeout", 2),
    }
    journey = labhost.trace(spec, params["node"], params["target"], **probe)
    unseen = [host for host in op.lab.labhosts if host != op.labhost]
    if unseen:  # a lab spanning lab hosts: each sees only its own namespaces
        journey["unseen_labhosts"] = unseen
    outcome = journey["outcome"]
    note(op.lab_id, LabEvent.Kind.NODE, f"trace {params['node']} -> {params['target']}: {outcome['result']}")
    return journey


def _check(op: Operation, labhost: Engine) -> dict:
    """A round of an exercise's checks; the results go to the student's attempt."""
    from ..classroom import grading
    from ..classroom.models import Attempt

    attempt = op.params["attempt"]
    found = Attempt.objects.filter(id=attempt).select_related("exercise").first()

    def heard(result: dict) -> None:
        if found is not None:
            grading.each_result(op.lab.tag, found, result)

    try:
        spec = deployed_spec(op.lab, op.labhost)
        results = labhost.check(spec, op.params["checks"], progress=heard)
    except Exception as exc:  # whatever stopped the round, the attempt is not left `checking`
        reason = str(exc) if isinstance(exc, EngineError) else f"the round broke off ({type(exc).__name__})"
        until_stored(lambda: grading.record_failure(attempt, reason), "recording a failed round")
        raise
    tried = bool(op.params.get("tried", True))
    until_stored(lambda: grading.record(attempt, results, tried), "recording check results")
    # The row is the lab's, which its owner reads: the results themselves are the attempt's.
    return {"passed": sum(1 for r in results if r["passed"]), "checks": len(results)}


CONTROLS = {
    Operation.Kind.CABLE: _cable,
    Operation.Kind.IMPAIR: _impair,
    Operation.Kind.NODE: _node,
    Operation.Kind.EXEC: _exec,
    Operation.Kind.CHECK: _check,
    Operation.Kind.NAT: _nat,
    Operation.Kind.TRACE: _trace,
}


def run_capture(capture_id: int, labhost: Engine | None = None) -> Capture:
    """Start a capture and return: it runs detached, so it holds no worker for its seconds,
    and a thread of this process stores what it caught when it ends."""
    cap = Capture.objects.select_related("lab").get(id=capture_id)
    queued = Capture.objects.filter(id=cap.id, status=Capture.Status.QUEUED)
    if not queued.update(status=Capture.Status.RUNNING):
        return cap  # taken up already (a message sent twice)
    cap.status = Capture.Status.RUNNING
    labhost = labhost or this_labhost()
    try:
        spec = deployed_spec(cap.lab, cap.lab.host_of(cap.node))
        running = labhost.start_capture(
            spec, cap.node, cap.iface, cap.seconds, cap.max_bytes, name=_capture_name(cap.id)
        )
    except EngineError as exc:
        _captured(cap, error=str(exc))
        return cap
    _collect_later(cap.id, running, labhost)
    return cap


def _capture_name(capture_id: int) -> str:
    return f"capture-{capture_id}"


def _collect_later(capture_id: int, running: capture.Running, labhost: Engine) -> None:
    def collect() -> None:
        try:
            cap = Capture.objects.select_related("lab").get(id=capture_id)
            try:
                _captured(cap, pcap=labhost.collect_capture(running))
            except EngineError as exc:
                _captured(cap, error=str(exc))
        except Capture.DoesNotExist:  # deleted with its lab meanwhile
            labhost.collect_capture(running)
        except Exception:
            log.exception("capture %s could not be stored", capture_id)
        finally:
            connection.close()  # this thread's own database connection

    threading.Thread(target=collect, name=f"capture-{capture_id}", daemon=True).start()


def _captured(cap: Capture, pcap: bytes = b"", error: str = "") -> None:
    """The end of a capture: stored, noted in the lab's history and told to its open pages."""
    if error:
        cap.status, cap.error = Capture.Status.FAILED, error
        note(cap.lab_id, LabEvent.Kind.ERROR, f"capture on {cap.node}:{cap.iface} failed: {error}")
    else:
        cap.status, cap.pcap = Capture.Status.DONE, pcap
        note(cap.lab_id, LabEvent.Kind.CAPTURE, f"{cap.node}:{cap.iface}: captured {len(pcap)} bytes")
    cap.finished = timezone.now()
    running = Capture.objects.filter(id=cap.id, status=Capture.Status.RUNNING)
    fields = {"pcap": cap.pcap, "status": cap.status, "error": cap.error, "finished": cap.finished}
    if not until_stored(lambda: running.update(**fields), f"recording capture {cap.id}"):
        return  # ended already (collected twice after a restart: the first one counts)
    said = {
        "type": "capture",
        "id": cap.id,
        "status": cap.status,
        "error": cap.error,
        "size": len(cap.pcap or b""),
    }
    _announce(cap.lab.tag, said)


def recover_captures(labhost: str) -> None:
    """After a restart: a capture that was running when its worker stopped is collected when
    it ends (or has failed, if it never started); one still queued (its message maybe lost
    with a Redis restart) is sent again."""
    from ..lifecycle import enqueue_capture

    mine = Capture.objects.filter(lab__labhost=labhost)
    engine = this_labhost()
    for cap in mine.filter(status=Capture.Status.RUNNING).select_related("lab"):
        running = engine.capture_under_way(_capture_name(cap.id))
        if running is not None:  # its tcpdump ran on: collect it as its worker would have
            _collect_later(cap.id, running, engine)
        else:
            _captured(cap, error="the lab host's worker stopped while it ran")
    for capture_id in mine.filter(status=Capture.Status.QUEUED).values_list("id", flat=True):
        enqueue_capture(capture_id, labhost)
