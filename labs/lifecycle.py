"""The web half of the life cycle: check a request, write its row, enqueue it after commit.

A deploy compiles the lab's document into its per-host spec; a destroy asks for the empty
spec; controls and commands carry their parameters. The lab host's half (`labs.hostside`)
carries them out. Nothing here touches a kernel or a container engine.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from topology.compiler import compile_lab
from topology.spec import LabHostSpec

from . import fleet, queues, stitching
from .images import current_policy
from .live.state import publish_status
from .models import Capture, Lab, LabStatus, Operation
from .store.documents import lab_assignments, lab_document

log = logging.getLogger(__name__)
IDLE = fleet.IDLE


class OperationRefused(Exception):
    """A job that cannot be requested now; the message says why."""


class LimitReached(OperationRefused):
    """A user's quota or in-flight limit would be passed; the message says which."""


QUOTA_RULES: list[Callable[[Lab], str | None]] = []  # more limits, added by other apps (a course's)


def quota_rule(rule: Callable[[Lab], str | None]) -> Callable[[Lab], str | None]:
    """Register `rule`: the reason it gives (not None) refuses starting a user's lab."""
    QUOTA_RULES.append(rule)
    return rule


def check_quota(lab: Lab) -> None:
    """Running labs and their nodes per user, counted with this lab as if it were running."""
    owner = lab.owner
    if owner.is_staff:
        return
    for rule in QUOTA_RULES:
        if (problem := rule(lab)) is not None:
            raise LimitReached(problem)
    others = list(Lab.objects.filter(owner=owner).exclude(id=lab.id).exclude(status__in=IDLE))
    limit = settings.WIRELAB_QUOTA_RUNNING_LABS
    if len(others) >= limit:
        raise LimitReached(
            f"you have {len(others)} labs running or starting and may have {limit}: destroy one first"
        )
    nodes = sum(_nodes_of(other) for other in others) + _nodes_of(lab)
    if nodes > settings.WIRELAB_QUOTA_NODES:
        raise LimitReached(
            f"your running labs would have {nodes} nodes and you may have {settings.WIRELAB_QUOTA_NODES}"
        )


def _nodes_of(lab: Lab) -> int:
    """The lab's nodes as it runs them: its document's, and its orchestrator's app instances."""
    return len(lab.document.get("nodes", {})) + len((lab.assignments or {}).get("instances", {}))


def check_in_flight(lab: Lab, user) -> None:
    """Controls and commands one person may have queued or running at once."""
    who = user or lab.owner
    if who.is_staff:
        return
    waiting = Operation.objects.filter(
        requested_by=who, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).exclude(kind__in=Operation.LIFECYCLE)
    if waiting.count() >= settings.WIRELAB_MAX_JOBS_IN_FLIGHT:
        limit = settings.WIRELAB_MAX_JOBS_IN_FLIGHT
        raise LimitReached(f"you have {limit} controls or commands waiting: let them finish first")


def queue_position(lab: Lab) -> int | None:
    """How many deploys and destroys wait before the lab's own on its lab host, or for room on
    one (None: not waiting)."""
    queued = Operation.objects.filter(kind__in=Operation.LIFECYCLE, status=Operation.Status.QUEUED)
    mine = queued.filter(lab=lab).order_by("id").first()
    return None if mine is None else queued.filter(labhost=mine.labhost, id__lt=mine.id).count()


def busy_with(lab: Lab) -> Operation | None:
    """The deploy or destroy of the lab not yet done, if any."""
    return lab.operations.filter(
        kind__in=Operation.LIFECYCLE, status__in=[Operation.Status.QUEUED, Operation.Status.RUNNING]
    ).first()


def request_deploy(lab: Lab, user=None, enqueue: bool = True, placing: str = "auto") -> Operation:
    """Compile the lab (refusing on validation errors) and queue its deploy.

    A lab that runs nowhere is placed on a lab host first (`labs.fleet`), or waits for room;
    a running lab stays where it is. `placing` "move" takes it to another lab host, "stay"
    keeps it on its own (a lab host come back restoring its labs).

    Compiling happens outside the transaction, so no lock is held meanwhile; the row is then
    locked only to check that the lab did not change and is not busy, and to write.
    """
    for _ in range(3):
        seen = Lab.objects.get(id=lab.id)
        doc = lab_document(seen)
        spans = stitching.may_span(doc)  # then compiled again, stitched, once placed (`_spread`)
        specs, assignments = compile_lab(doc, seen.tag, seen.labhost, lab_assignments(seen), current_policy())
        with transaction.atomic():
            locked = Lab.objects.select_for_update().get(id=lab.id)
            if (busy := busy_with(locked)) is not None:
                raise OperationRefused(f"lab {locked.slug} is busy: {busy.kind} #{busy.id} is {busy.status}")
            if locked.status in IDLE:
                check_quota(locked)
            if spans:
                try:
                    running = set() if locked.status in fleet.AT_REST else {locked.labhost, *locked.parts}
                    fleet.check_node_pins(doc, keep=running)
                except fleet.Unplaceable as exc:
                    raise OperationRefused(str(exc)) from None
            if (locked.document, locked.assignments, locked.labhost, locked.tag) != (
                seen.document,
                seen.assignments,
                seen.labhost,
                seen.tag,
            ):
                continue  # edited while it compiled: compile what is stored now
            locked.assignments = assignments.as_dict()
            own = specs.get(locked.labhost) or LabHostSpec.empty(locked.tag, locked.labhost)
            locked.containers = own.containers()
            spec = own.to_dict()
            moving = placing == "move" or (placing == "auto" and locked.status == LabStatus.LOST)
            if placing == "stay" or (not moving and locked.status not in fleet.AT_REST):
                return _deploying(locked, user, enqueue, spec, locked.labhost, doc=doc)
            avoid = locked.labhost if moving else None
            try:
                labhost = fleet.choose(locked, doc, avoid=avoid)
            except fleet.Unplaceable as exc:
                raise OperationRefused(str(exc)) from None
            fresh = locked.status == LabStatus.DRAFT
            if labhost is None or fleet.someone_waits():  # wait for room, first come first served
                return _deploying(
                    locked, user, False, spec, fleet.UNPLACED, params={"avoid": avoid, "fresh": fresh}
                )
            spec = fleet.settle(locked, labhost, spec, fresh)
            return _deploying(locked, user, enqueue, spec, labhost, doc=doc)
    raise OperationRefused(f"lab {lab.slug} kept changing while it was compiled; deploy it again")


def _deploying(
    lab: Lab, user, enqueue: bool, spec: dict, labhost: str, *, params: dict | None = None, doc=None
) -> Operation:
    """The deploy's row (`doc`: the lab's document, for one placed now)."""
    waiting = labhost == fleet.UNPLACED
    lab.status = LabStatus.DEPLOYING
    lab.status_reason = fleet.waiting_reason(fleet.waiting().count()) if waiting else "queued"
    lab.save(update_fields=["assignments", "status", "status_reason", "containers", "updated"])
    if not waiting:
        _check_placed(lab, doc)
    op = _new(lab, Operation.Kind.DEPLOY, user, enqueue, spec=spec, labhost=labhost, params=params or {})
    announce_status(lab, user)
    if not waiting:
        _spread(op, lab, doc, enqueue)
    return op


def _check_placed(lab: Lab, doc) -> None:
    """What only the lab hosts it was placed on can say: that they have its CNI plugins."""
    try:
        fleet.check_cni_plugins(lab, doc)
    except fleet.Unplaceable as exc:
        raise OperationRefused(str(exc)) from None


def _spread(op: Operation, lab: Lab, doc, enqueue: bool) -> None:
    """A lab pinning hosts or routers elsewhere, placed now (the locked `lab` on its lab host,
    with its final tag): compiled again for there, the deploy `op` keeps its own part and each
    other lab host gets a deploy of its part, done together (`labs.hostside.lifecycle`)."""
    if not stitching.may_span(doc) and not lab.parts:
        return
    specs, _ = compile_lab(
        doc,
        lab.tag,
        lab.labhost,
        lab_assignments(lab),
        current_policy(),
        underlay=stitching.underlay_for(lab),
    )
    own = specs.get(lab.labhost) or LabHostSpec.empty(lab.tag, lab.labhost)
    for host in set(lab.parts) - set(specs) - {lab.labhost}:  # a part no longer wanted there
        specs[host] = LabHostSpec.empty(lab.tag, host)
    lab.parts, lab.containers = stitching.parts_of(specs, lab.labhost), own.containers()
    lab.save(update_fields=["parts", "containers"])
    op.spec = own.to_dict()
    _with_parts(op, lab, {host: spec for host, spec in specs.items() if host != lab.labhost}, enqueue)


def _with_parts(op: Operation, lab: Lab, parts: dict[str, LabHostSpec], enqueue: bool) -> None:
    """A job like `op` on each other lab host, with its part's spec, done together with it."""
    others = [
        _new(lab, op.kind, op.requested_by, enqueue, host, spec=spec.to_dict(), params={"part_of": op.id})
        for host, spec in parts.items()
    ]
    if others or "parts" in op.params:
        op.params = {**op.params, "parts": [o.id for o in others]}
    op.save(update_fields=["spec", "params"])


def place_waiting() -> int:
    """Place the deploys waiting for room, oldest first, while they fit; returns how many went."""
    placed = 0
    try:
        for op_id in list(fleet.waiting().values_list("id", flat=True)):
            if not _place_one(op_id):
                break  # the oldest still does not fit: the younger wait behind it
            placed += 1
    finally:
        fleet.tell_places()
    return placed


def _place_one(op_id: int) -> bool:
    """Place one waiting deploy if it fits now (or fail it if it never can); False: it waits."""
    with transaction.atomic():
        op = Operation.objects.select_for_update().get(id=op_id)
        if op.labhost != fleet.UNPLACED or op.status != Operation.Status.QUEUED:
            return True  # taken care of meanwhile
        lab = Lab.objects.select_for_update().get(id=op.lab_id)
        doc = lab_document(lab)
        try:
            labhost = fleet.choose(lab, doc, avoid=op.params.get("avoid"))
        except fleet.Unplaceable as exc:
            _fail_waiting(op, lab, str(exc))
            return True
        if labhost is None:
            return False
        op.spec, op.labhost = fleet.settle(lab, labhost, op.spec, op.params.get("fresh", False)), labhost
        Lab.objects.filter(id=lab.id).update(status_reason="queued")
        op.save(update_fields=["spec", "labhost"])
        _spread(op, lab, doc, enqueue=True)
        transaction.on_commit(lambda: enqueue_operation(op.id, op.labhost, kind=op.kind))
        return True


def _fail_waiting(op: Operation, lab: Lab, reason: str) -> None:
    failed = Operation.Status.FAILED
    Operation.objects.filter(id=op.id).update(status=failed, error=reason, finished=timezone.now())
    Lab.objects.filter(id=lab.id).update(status=LabStatus.FAILED, status_reason=reason[:500])


@transaction.atomic
def request_destroy(lab: Lab, user=None, enqueue: bool = True) -> Operation:
    lab = Lab.objects.select_for_update().get(id=lab.id)
    if (busy := busy_with(lab)) is not None and busy.kind == Operation.Kind.DESTROY:
        raise OperationRefused(f"lab {lab.slug} is already being destroyed (#{busy.id})")
    if (busy is not None and busy.labhost == fleet.UNPLACED) or lab.status == LabStatus.LOST:
        return _stopped_in_place(lab, busy, user)
    lab.status, lab.status_reason = LabStatus.DESTROYING, "queued"
    lab.save(update_fields=["status", "status_reason", "updated"])
    spec = LabHostSpec.empty(lab.tag, lab.labhost).to_dict()
    op = _new(lab, Operation.Kind.DESTROY, user, enqueue, spec=spec)
    announce_status(lab, user)
    if lab.labhosts[1:]:
        _with_parts(op, lab, {host: LabHostSpec.empty(lab.tag, host) for host in lab.labhosts[1:]}, enqueue)
    return op


def announce_status(lab: Lab, user) -> None:
    """Every open view of the lab hears its new status once it is stored, and who asked."""
    tag, status, reason = lab.tag, lab.status, lab.status_reason
    by = getattr(user, "username", "") or ""
    transaction.on_commit(lambda: publish_status(tag, status, reason, by))


def _stopped_in_place(lab: Lab, waiting: Operation | None, user) -> Operation:
    """Destroying a lab that holds nothing anyone can reach: one still waiting for room, or one
    on a lost lab host. It stops here; a new tag makes what a lost host still holds an orphan,
    which that host's garbage collection takes down if it ever comes back."""
    now = timezone.now()
    if waiting is not None:
        waiting.status, waiting.error = Operation.Status.FAILED, "the lab was destroyed"
        waiting.finished = now
        waiting.save(update_fields=["status", "error", "finished"])
    was_lost = lab.status == LabStatus.LOST
    if was_lost:
        fleet.retag(lab)  # what any of its lab hosts still holds is then an orphan, collected there
    lab.status, lab.status_reason, lab.parts = LabStatus.STOPPED, "", {}
    lab.save(update_fields=["tag", "status", "status_reason", "parts", "updated"])
    note = "stopped while waiting for room"
    if was_lost:
        note = f"lab host {lab.labhost} is lost: the lab is stopped here"
    announce_status(lab, user)
    return Operation.objects.create(
        lab=lab, kind=Operation.Kind.DESTROY, labhost=lab.labhost, requested_by=user, log=note,
        status=Operation.Status.SUCCEEDED, started=now, finished=now,
    )  # fmt: skip


def request_job(
    lab: Lab, kind: str, params: dict, user=None, enqueue: bool = True, *, labhost: str | None = None
) -> Operation:
    """Queue a control or a command on the lab's lab host (or on `labhost`, the one holding the
    nodes it is about, when the lab spans several)."""
    if lab.status == LabStatus.LOST:
        lost = fleet.lost_among(lab.labhosts) or lab.labhost
        raise OperationRefused(f"lab host {lost} is lost: deploy the lab again to run it on another")
    check_in_flight(lab, user)
    with transaction.atomic():
        return _new(lab, kind, user or lab.owner, enqueue, labhost, params=params)


def _new(lab: Lab, kind: str, user, enqueue: bool, labhost: str | None = None, **fields) -> Operation:
    labhost = lab.labhost if labhost is None else labhost
    op = Operation.objects.create(lab=lab, kind=kind, labhost=labhost, requested_by=user, **fields)
    if enqueue:
        transaction.on_commit(lambda: enqueue_operation(op.id, op.labhost, kind=op.kind))
    return op


def enqueue_operation(op_id: int, labhost: str, resume: bool = False, kind: str | None = None) -> None:
    """Send a job to its lab host's queue, by task name: the web side never imports the engine.

    When the broker cannot be reached the job ends failed, saying so, rather than waiting
    queued for ever (and blocking every later deploy of its lab).
    """
    kind = kind or Operation.objects.values_list("kind", flat=True).get(id=op_id)
    try:
        queues.send(queues.RUN_OPERATION, labhost, kind, (op_id,), resume=resume)
    except Exception as exc:  # any broker error: the row must not stay queued
        log.warning("could not enqueue operation %s: %s", op_id, exc)
        reason = f"the queue of lab host {labhost} could not be reached: {exc}"[:500]
        Operation.objects.filter(id=op_id, status=Operation.Status.QUEUED).update(
            status=Operation.Status.FAILED, error=reason, finished=timezone.now()
        )
        op = Operation.objects.select_related("lab").get(id=op_id)
        if op.kind in Operation.LIFECYCLE and op.status == Operation.Status.FAILED:
            Lab.objects.filter(id=op.lab_id).update(status=LabStatus.FAILED, status_reason=reason)


def enqueue_capture(capture_id: int, labhost: str) -> None:
    def send() -> None:
        try:
            queues.send(queues.RUN_CAPTURE, labhost, "capture", (capture_id,))
        except Exception as exc:  # any broker error: the capture must not stay queued
            Capture.objects.filter(id=capture_id).update(
                status=Capture.Status.FAILED,
                error=f"the queue of lab host {labhost} could not be reached: {exc}",
            )

    transaction.on_commit(send)
