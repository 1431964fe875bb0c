"""The orchestrator's own upkeep on this lab host, as Marathon's: every app instance runs, on an
agent that is up.

Each turn looks at the orchestrated labs that run here. An instance whose container stopped
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
from dataclasses import dataclass

from django.db import connection, transaction

from topology.orchestrator import schedule
from worker.runtime import NODE_ROLES

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


@dataclass
class Mending:
    """A lab's heals in a row: when the next may be, and how long it waits after that."""

    wait: float = BACKOFF_FIRST
    next_at: float = 0.0
    healthy_since: float = 0.0


class Healer:
    """`follow()` the namespaces that run (the monitor's map, for which labs are here); `run(stop)`."""

    def __init__(self, changes: LabChanges, tick: float = TICK):
        self.changes, self.tick = changes, tick
        self.labs: set[str] = set()
        self.mending: dict[str, Mending] = {}
        self.lock = threading.Lock()

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
        finally:
            connection.close()

    def turn(self, tag: str) -> str:
        """Look after one lab; returns what was done ('' for nothing)."""
        lab = Lab.objects.filter(tag=tag).first()
        if lab is None or lab.status not in ("running", "degraded"):
            return ""
        doc = lab_document(lab)
        if doc.orchestrator is None or not doc.apps:
            return ""
        placement = lab_assignments(lab).instances
        states = self._states(tag)
        down = {a: why for a in doc.orchestrator.agents if (why := self._down(lab, a, states))}
        stopped = sorted(i for i, a in placement.items() if a not in down and states.get(i) != "running")
        moving = sorted(i for i, a in placement.items() if a in down)
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
    def _states(tag: str) -> dict[str, str]:
        runtime = this_labhost().runtime()
        try:
            return {c.node: c.status for c in runtime.list_containers(tag) if c.role in NODE_ROLES}
        finally:
            runtime.close()

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
