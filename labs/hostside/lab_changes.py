"""How the lab's own APIs (its Docker hosts', its orchestrator's) change a lab: one change of a
lab at a time from them, each an edit of the document already made, carried out as a deploy or
a node action of the lab on this lab host (or enqueued for the one holding it), and answered
when done."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from django.conf import settings

from topology.dockerrun import Refused
from worker.runtime import ContainerInfo, Role

from .. import lifecycle
from ..models import Lab, Operation
from .engine import this_labhost
from .jobs import carry_out

WAIT_SECONDS = 600  # a change queued behind others is waited for this long at most


class LabChanges:
    def __init__(self) -> None:
        self.locks: dict[str, threading.Lock] = {}

    def lock(self, lab: Lab) -> threading.Lock:
        """Held while one call edits the lab and converges it."""
        return self.locks.setdefault(lab.tag, threading.Lock())

    def converge(self, lab: Lab) -> None:
        """Deploy the lab's edited document; refused unless the lab runs (asked again after each
        wait for another change: a destroy it waited for is never undone by a deploy)."""

        def deploy() -> Operation:
            lab.refresh_from_db()
            if lab.status not in ("running", "degraded"):
                raise Refused(409, f"lab {lab.slug} is {lab.status}: deploy it again, then run this")
            return lifecycle.request_deploy(lab, lab.owner, enqueue=False)

        self.carry_out(self._waiting_turn(deploy))

    def carry_out(self, op: Operation) -> None:
        if op.labhost == settings.WIRELAB_LABHOST:
            op = carry_out(op.id, settle=False)  # answered once started, as dockerd answers
        else:
            lifecycle.enqueue_operation(op.id, op.labhost, kind=op.kind)
            op = _finished(op)
        if op.status != Operation.Status.SUCCEEDED:
            raise Refused(500, (op.error or f"{op.kind} #{op.id} did not finish").splitlines()[-1])

    @staticmethod
    def _waiting_turn(request: Callable[[], Operation]) -> Operation:
        """Another change of the lab under way (a deploy from the editor): wait for it."""
        until = time.monotonic() + WAIT_SECONDS
        while True:
            try:
                return request()
            except lifecycle.OperationRefused as exc:
                if "is busy" not in str(exc) or time.monotonic() > until:
                    raise
                time.sleep(0.2)

    @staticmethod
    def containers(lab: Lab) -> list[ContainerInfo]:
        """The lab's app containers on this lab host."""
        runtime = this_labhost().runtime()
        try:
            return [info for info in runtime.list_containers(lab.tag) if info.role == Role.APP]
        finally:
            runtime.close()


def _finished(op: Operation) -> Operation:
    until = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < until:
        op.refresh_from_db()
        if op.done:
            return op
        time.sleep(0.2)
    return op
