"""The orchestrator's own upkeep on this lab host, as Marathon's: every app instance runs, on an
agent that is up.

Each turn looks at the orchestrated labs that run here. Instances with health checks are checked
when due (from their own namespace, a few at a time); one failing is left out of the lab's
services, and after `max_failures` failures in a row past its grace it is started anew. An
instance whose container stopped
(it crashed, or was killed) is started anew, as a node action of the lab; an agent that is down
(its sandbox stopped, or every cable of it pulled) loses its instances to the other agents,
placed by the same scheduler with that agent left out, and the lab is deployed again through the
one path (the moved placement first stored with the lab's assignments). What was done is noted
in the lab's events. A lab that keeps needing it waits longer each time (Marathon's backoff), so an instance
that can never run does not redeploy its lab without end.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import connection, transaction

from topology.addressing import Assignments, host_mode_port
from topology.document import HealthDoc, LabDoc
from topology.orchestrator import schedule
from worker.health import Probe
from worker.live.monitor import Publish
from worker.runtime import NODE_ROLES, ContainerInfo

from .. import controls
from ..models import Lab, LabEvent
from ..store.documents import lab_assignments, lab_document
from .engine import this_labhost
from .jobs import deployed_spec, note
from .lab_changes import LabChanges

log = logging.getLogger(__name__)
TICK = 2.0
BACKOFF_FIRST, BACKOFF_MOST = 2.0, 300.0  # seconds between a lab's heals, doubling while they go on
SETTLED = 60.0  # a lab healthy this long starts its backoff afresh
PROBES = 8  # health checks made at once
Key = tuple[str, int]  # an instance and the index of one of its checks
Identity = tuple[str, int]  # a container and its process: a new start begins afresh
PROBES_PER_LAB = 4  # under way for one lab: half the pool at most, so the others' checks go on


def stamp() -> str:
    """Now, as Marathon writes times."""
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


@dataclass
class Health:
    """What one health check of one instance found, as Marathon's healthCheckResults say it."""

    identity: Identity
    started: float  # when this start was first seen (its grace counts from here)
    alive: bool | None = None
    failures: int = 0  # in a row
    first_success: str | None = None
    last_success: str | None = None
    last_failure: str | None = None
    cause: str | None = None
    next_at: float = 0.0

    def shown(self, task: str) -> dict[str, Any]:
        return {
            "taskId": task, "alive": bool(self.alive), "consecutiveFailures": self.failures,
            "firstSuccess": self.first_success, "lastSuccess": self.last_success,
            "lastFailure": self.last_failure, "lastFailureCause": self.cause,
        }  # fmt: skip


@dataclass
class Mending:
    """A lab's heals in a row: when the next may be, and how long it waits after that."""

    wait: float = BACKOFF_FIRST
    next_at: float = 0.0
    healthy_since: float = 0.0


class Healer:
    """`follow()` the namespaces that run (the monitor's map, for which labs are here); `run(stop)`."""

    def __init__(self, changes: LabChanges, tick: float = TICK, publish: Publish | None = None):
        self.changes, self.tick, self.publish = changes, tick, publish
        self.told: dict[str, dict[str, tuple[bool, str]]] = {}  # lab -> instance -> health last published
        self.labs: set[str] = set()
        self.mending: dict[str, Mending] = {}
        self.health: dict[str, dict[Key, Health]] = {}  # lab -> (instance, check) -> found
        self.running: dict[str, dict[Key, tuple[Future, Identity]]] = {}  # checks under way
        self.queued: dict[str, dict[Key, tuple[Probe, Identity]]] = {}  # due, waiting for a slot
        self.probing = threading.RLock()  # running and queued: turns and ended checks change them
        self.unhealthy: dict[str, set[str]] = {}  # lab -> instances its services leave out
        self.lock = threading.Lock()
        self.probes = ThreadPoolExecutor(max_workers=PROBES, thread_name_prefix="health")

    def results(self, tag: str, instance: str) -> list[dict[str, Any]]:
        """The instance's health check results, as a task shows them."""
        found = self.health.get(tag, {})
        return [h.shown(instance) for (name, _), h in sorted(found.items()) if name == instance]

    def healthy(self, tag: str, instance: str) -> bool | None:
        """Whether every check of the instance passes (None: it has none, or none has run)."""
        found = [h.alive for (name, _), h in self.health.get(tag, {}).items() if name == instance]
        if not found or any(a is None for a in found):
            return None
        return all(found)

    def follow(self, wanted: dict[str, tuple[str, str, int]]) -> None:
        with self.lock:
            self.labs = {lab for lab, _, _ in wanted.values() if lab}

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.wait(self.tick):
                with self.lock:
                    labs = sorted(self.labs)
                for tag in labs:
                    try:
                        self.turn(tag)
                    except Exception as exc:  # the database or the engine away: next turn
                        log.warning("the orchestrator could not look after lab %s: %s", tag, exc)
                        connection.close()
                self.mending = {t: m for t, m in self.mending.items() if t in labs}
                self.health = {t: h for t, h in self.health.items() if t in labs}
                with self.probing:
                    self.running = {t: r for t, r in self.running.items() if t in labs}
                    self.queued = {t: q for t, q in self.queued.items() if t in labs}
                self.told = {t: h for t, h in self.told.items() if t in labs}
        finally:
            self.probes.shutdown(wait=False, cancel_futures=True)
            connection.close()

    def turn(self, tag: str) -> str:
        """Look after one lab; returns what was done ('' for nothing)."""
        lab = Lab.objects.filter(tag=tag).first()
        if lab is None or lab.status not in ("running", "degraded"):
            return ""
        doc = lab_document(lab)
        if doc.orchestrator is None or not doc.apps:
            self.health.pop(tag, None)  # its apps are gone, and what was found of them
            with self.probing:
                self.running.pop(tag, None)
                self.queued.pop(tag, None)
            self.told.pop(tag, None)
            self.unhealthy.pop(tag, None)
            return ""
        assignments = lab_assignments(lab)
        placement = assignments.instances
        infos = self._containers(tag)
        if not infos:
            return ""  # nothing of the lab here (being destroyed): nothing to heal
        states = {name: info.status for name, info in infos.items()}
        failing = self._check(tag, doc, assignments, infos)
        down = {a: why for a in doc.orchestrator.agents if (why := self._down(lab, a, states))}
        stopped = sorted(i for i, a in placement.items() if a not in down and states.get(i) != "running")
        moving = sorted(i for i, a in placement.items() if a in down)
        if failing:
            with self.changes.lock(lab):
                for instance, cause in failing.items():
                    op = controls.request_node_action(lab, instance, "restart", user=lab.owner, enqueue=False)
                    self.changes.carry_out(op)
                    note(lab.id, LabEvent.Kind.NODE, f"orchestrator: {instance} failed its health check "
                         f"{cause}: started anew")  # fmt: skip
        mending = self.mending.setdefault(tag, Mending())
        now = time.monotonic()
        if not stopped and not moving:
            mending.healthy_since = mending.healthy_since or now
            if now - mending.healthy_since > SETTLED:
                mending.wait = BACKOFF_FIRST
            return ""
        mending.healthy_since = 0.0
        if now < mending.next_at or lab.operations.filter(status__in=("queued", "running")).exists():
            return ""
        mending.next_at, mending.wait = now + mending.wait, min(mending.wait * 2, BACKOFF_MOST)
        said = self._heal(lab, down, stopped, moving)
        note(lab.id, LabEvent.Kind.NODE, f"orchestrator: {said}")
        return said

    def _heal(self, lab: Lab, down: dict[str, str], stopped: list[str], moving: list[str]) -> str:
        said = []
        if moving:
            doc, before = lab_document(lab), lab_assignments(lab).instances
            placement, problems = schedule(doc, before, down)
            with transaction.atomic():
                locked = Lab.objects.select_for_update().get(id=lab.id)
                locked.assignments = {**(locked.assignments or {}), "instances": placement}
                locked.save(update_fields=["assignments"])
            for instance in moving:
                where = (
                    f"to {placement[instance]}"
                    if instance in placement
                    else "but cannot: " + "; ".join(p.message for p in problems)
                )
                said.append(f"{instance} moves off {before[instance]} ({down[before[instance]]}) {where}")
        with self.changes.lock(lab):
            if moving:
                self.changes.converge(lab)
            for instance in stopped:  # a deploy leaves a stopped container as it is: started anew
                op = controls.request_node_action(lab, instance, "restart", user=lab.owner, enqueue=False)
                self.changes.carry_out(op)
        if stopped:
            said.append(f"{', '.join(stopped)} stopped: started anew")
        return "; ".join(said)

    @staticmethod
    def _containers(tag: str) -> dict[str, ContainerInfo]:
        runtime = this_labhost().runtime()
        try:
            return {c.node: c for c in runtime.list_containers(tag) if c.role in NODE_ROLES}
        finally:
            runtime.close()

    # Health checks -----------------------------------------------------------------------

    def _check(
        self, tag: str, doc: LabDoc, assignments: Assignments, infos: dict[str, ContainerInfo]
    ) -> dict[str, str]:
        """Take in the checks that ended, queue those that are due; the instances to start anew,
        with why. Checks run in the pool while turns go on, a lab's at most PROBES_PER_LAB at once
        and the next as soon as one ends (`_pump`), in the order they fell due: one that hangs
        holds up nothing but its own lab's slot, and no instance waits behind the others."""
        now, found, placement = time.monotonic(), self.health.setdefault(tag, {}), assignments.instances
        with self.probing:
            done = {k: v for k, v in self.running.setdefault(tag, {}).items() if v[0].done()}
            for key in done:
                del self.running[tag][key]
        waiting = self.queued.setdefault(tag, {})
        for instance in placement:
            app = doc.apps.get(instance.rpartition(".")[0])
            info = infos.get(instance)
            for index, check in enumerate(app.health if app else []):
                key = (instance, index)
                if info is None or info.status != "running":
                    found.pop(key, None)
                    continue
                identity = (info.id, info.pid)
                if key not in found or found[key].identity != identity:
                    found[key] = Health(identity, now)
                if now >= found[key].next_at:
                    found[key].next_at = now + check.interval
                    with self.probing:
                        waiting.setdefault(
                            key, (self._probe_of(doc, instance, check, assignments.ports), identity)
                        )
        for key in [k for k in found if k[0] not in placement]:
            del found[key]
        self._pump(tag)
        failing: dict[str, str] = {}
        for key, (future, identity) in done.items():
            try:
                passed, cause = future.result()
            except Exception as exc:  # the engine away: a failure
                passed, cause = False, f"could not be checked: {exc}"
            app = doc.apps.get(key[0].rpartition(".")[0])
            health = found.get(key)
            if app is None or key[1] >= len(app.health) or health is None or health.identity != identity:
                continue  # the app changed, or the instance started anew, meanwhile
            check = app.health[key[1]]
            when = stamp()
            if passed:
                health.alive, health.failures, health.last_success = True, 0, when
                health.first_success = health.first_success or when
                continue
            health.alive, health.last_failure, health.cause = False, when, cause
            if now - health.started >= check.grace:
                health.failures += 1
            if check.max_failures and health.failures >= check.max_failures:
                failing[key[0]] = f"{health.failures} times in a row ({cause})"
        self._leave_out(tag, {i for (i, _), h in found.items() if h.alive is not True})
        self._tell(tag, found)
        return failing

    def _tell(self, tag: str, found: dict[Key, Health]) -> None:
        """Publish each instance's health when it changed (`node.health`: the diagram shows it)."""
        now: dict[str, tuple[bool, str]] = {}
        for (instance, _), health in sorted(found.items()):
            if health.alive is None:
                continue
            healthy, cause = now.get(instance, (True, ""))
            now[instance] = (healthy and health.alive, cause or ("" if health.alive else health.cause or ""))
        told = self.told.setdefault(tag, {})
        events = [
            {"type": "node.health", "node": instance, "healthy": healthy, "cause": cause}
            for instance, (healthy, cause) in now.items()
            if told.get(instance) != (healthy, cause)
        ]
        self.told[tag] = now
        if events and self.publish is not None:
            self.publish(tag, events)

    def _pump(self, tag: str) -> None:
        """Start the lab's queued checks while it has slots (again from each check's end)."""
        with self.probing:
            running, waiting = self.running.setdefault(tag, {}), self.queued.setdefault(tag, {})
            while waiting and len(running) < PROBES_PER_LAB:
                key = next(iter(waiting))
                probe, identity = waiting.pop(key)
                future = self.probes.submit(this_labhost().probe, tag, key[0], probe)
                running[key] = (future, identity)
                future.add_done_callback(partial(self._ended, tag))

    def _ended(self, tag: str, _: Future) -> None:
        self._pump(tag)

    @staticmethod
    def _probe_of(doc: LabDoc, instance: str, check: HealthDoc, ports: dict[str, int]) -> Probe:
        """The check as made from the instance's namespace: in host mode at its host port (brokered
        or not), otherwise at the container's own."""
        if check.protocol == "command":
            return Probe("command", command=check.command or "", timeout=check.timeout)
        app = doc.apps[instance.rpartition(".")[0]]
        port: int | str | None = check.port
        if port is None:
            given = app.ports[check.port_index]
            port = host_mode_port(given) if app.mode == "host" else given.container
            if port == "auto":
                port = ports.get(f"{instance}:{check.port_index}")
        return Probe(check.protocol, port=int(port or 0), path=check.path, timeout=check.timeout)

    def _leave_out(self, tag: str, nodes: set[str]) -> None:
        """Have the lab's services leave out the instances that are not healthy (when that changed)."""
        if self.unhealthy.get(tag, set()) == nodes:
            return
        this_labhost().set_unhealthy(tag, nodes)
        self.unhealthy[tag] = nodes

    @staticmethod
    def _down(lab: Lab, agent: str, states: dict[str, str]) -> str:
        """Why an agent is down ('' when it is up): stopped, or cut off."""
        if states.get(agent) != "running":
            return "stopped"
        spec = deployed_spec(lab, lab.host_of(agent))
        cables = [key.split(":", 1)[1] for key in spec.cables if key.split(":", 1)[0] == agent]
        engine = this_labhost()
        if cables and not any(engine.cable_plugged(spec, agent, iface) for iface in cables):
            return "its cables pulled"
        return ""
