"""Controls on running labs, both halves: `request_*` on the web side validates and
enqueues on the lab host's queue; `apply_*` runs on the lab host (from the task, or
directly in tests and benchmarks) and records what happened in the lab's events."""

from __future__ import annotations

import logging
from dataclasses import asdict

from django.utils import timezone

from topology.models import Lab
from topology.spec import LabHostSpec
from worker.capture import capture
from worker.config import EngineConfig
from worker.converge import converge
from worker.errors import EngineError
from worker.live.controls import Impairment, impair, set_cable
from worker.runtime import DockerRuntime

from .live.state import publish_now
from .models import Capture, LabEvent, Operation

log = logging.getLogger(__name__)
NODE_ACTIONS = ("stop", "start", "restart")


class ControlRefused(Exception):
    """A control that makes no sense for the lab as it is; the message says why."""


def note(lab: Lab, kind: str, message: str) -> None:
    LabEvent.objects.create(lab=lab, kind=kind, message=message[:1000])


def _running(lab: Lab) -> None:
    if lab.status not in ("running", "degraded"):
        raise ControlRefused(f"lab {lab.slug} is {lab.status}; deploy it first")


def _interface(lab: Lab, node: str, iface: str) -> None:
    if not lab.nodes.filter(name=node, interfaces__name=iface).exists():
        raise ControlRefused(f"lab {lab.slug} has no interface {node}:{iface}")


def _enqueue(lab: Lab, task, *args) -> None:
    task.apply_async(args=list(args), queue=lab.labhost)


# Web side -------------------------------------------------------------------------------


def request_cable(lab: Lab, ends: list[tuple[str, str]], plugged: bool) -> None:
    from .tasks import cable_task

    _running(lab)
    for node, iface in ends:
        _interface(lab, node, iface)
    _enqueue(lab, cable_task, lab.id, [list(e) for e in ends], plugged)


def request_impairment(lab: Lab, ends: list[tuple[str, str]], impairment: Impairment) -> None:
    from .tasks import impair_task

    _running(lab)
    for node, iface in ends:
        _interface(lab, node, iface)
    _enqueue(lab, impair_task, lab.id, [list(e) for e in ends], asdict(impairment))


def request_node_action(lab: Lab, node: str, action: str) -> None:
    from .tasks import node_task

    _running(lab)
    if action not in NODE_ACTIONS:
        raise ControlRefused(f"'{action}' is not one of {', '.join(NODE_ACTIONS)}")
    if not lab.nodes.filter(name=node).exclude(kind="switch").exists():
        raise ControlRefused(f"lab {lab.slug} has no node {node} with a container")
    _enqueue(lab, node_task, lab.id, node, action)


def request_capture(lab: Lab, node: str, iface: str, seconds: int, max_bytes: int) -> Capture:
    from .tasks import capture_task

    _running(lab)
    _interface(lab, node, iface)
    cap = Capture.objects.create(lab=lab, node=node, iface=iface, seconds=seconds, max_bytes=max_bytes)
    _enqueue(lab, capture_task, cap.id)
    return cap


# Lab host side --------------------------------------------------------------------------


def apply_cable(lab_id: int, ends: list, plugged: bool) -> None:
    lab = Lab.objects.get(id=lab_id)
    for node, iface in ends:
        try:
            set_cable(lab.uid, node, iface, plugged)
        except EngineError as exc:
            note(lab, LabEvent.Kind.ERROR, f"{node}:{iface}: {exc}")
            continue
        note(lab, LabEvent.Kind.LINK, f"{node}:{iface} cable {'plugged' if plugged else 'pulled'}")


def apply_impairment(lab_id: int, ends: list, values: dict) -> None:
    lab = Lab.objects.get(id=lab_id)
    impairment = Impairment(**values)
    described = ", ".join(f"{k} {v}" for k, v in values.items() if v) or "none"
    for node, iface in ends:
        error = ""
        try:
            impair(lab.uid, node, iface, impairment)
            note(lab, LabEvent.Kind.IMPAIRMENT, f"{node}:{iface}: {described}")
        except EngineError as exc:
            error = str(exc)
            note(lab, LabEvent.Kind.ERROR, f"{node}:{iface} impairment: {exc}")
        publish_now(lab.uid, [{"type": "impairment", "node": node, "iface": iface, **values, "error": error}])


def last_deployed_spec(lab: Lab) -> LabHostSpec | None:
    op = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED).first()
    return LabHostSpec.from_dict(op.spec) if op else None


def apply_node_action(lab_id: int, node: str, action: str, config: EngineConfig | None = None) -> None:
    """Stop, start or restart a node; after a start its links and addresses are made again."""
    lab = Lab.objects.get(id=lab_id)
    runtime = DockerRuntime(config or EngineConfig())
    try:
        found = [c for c in runtime.list(lab.uid) if c.node == node and c.role in ("sandbox", "app")]
        if not found:
            note(lab, LabEvent.Kind.ERROR, f"{node}: no container to {action}")
            return
        getattr(runtime, action)(found[0].id)
        note(lab, LabEvent.Kind.NODE, f"{node}: {action}")
        spec = last_deployed_spec(lab)
        if action != "stop" and spec is not None:
            report = converge(spec, config, runtime=runtime)
            if report.changes:
                note(lab, LabEvent.Kind.NODE, f"{node}: rewired ({len(report.changes)} changes)")
    except EngineError as exc:
        note(lab, LabEvent.Kind.ERROR, f"{node}: {action} failed: {exc}")
    finally:
        runtime.close()


def apply_capture(capture_id: int) -> Capture:
    cap = Capture.objects.select_related("lab").get(id=capture_id)
    Capture.objects.filter(id=cap.id).update(status=Capture.Status.RUNNING)
    try:
        cap.pcap = capture(cap.lab.uid, cap.node, cap.iface, cap.seconds, cap.max_bytes)
        cap.status = Capture.Status.DONE
        note(cap.lab, LabEvent.Kind.CAPTURE, f"{cap.node}:{cap.iface}: captured {len(cap.pcap)} bytes")
    except EngineError as exc:
        cap.status, cap.error = Capture.Status.FAILED, str(exc)
        note(cap.lab, LabEvent.Kind.ERROR, f"capture on {cap.node}:{cap.iface} failed: {exc}")
    cap.finished = timezone.now()
    cap.save(update_fields=["pcap", "status", "error", "finished"])
    return cap
