"""Warm sandboxes ahead of a class: how many of a lab's sandboxes a lab host can have started
before the students press Start (`LabHostSpec.warmable`), and the request to every lab host
that takes labs now. The lab hosts keep them (worker/pool.py) for PREPARED_SECONDS."""

from __future__ import annotations

import math
from collections import Counter

from django.conf import settings

from topology.compiler import compile_lab
from topology.document import LabDoc

from . import fleet, queues
from .images import current_policy
from .models import LabHost

PREPARED_SECONDS = 2 * 3600
MAX_STUDENTS = 500


def warmable_per_lab(doc: LabDoc) -> Counter:
    """Image -> how many of one lab's sandboxes a warm one can become (nothing is deployed: the
    tag only names the compiled spec)."""
    specs, _ = compile_lab(doc, "warm", settings.WIRELAB_LABHOST, images=current_policy())
    return Counter(s.image for spec in specs.values() for s in spec.warmable())


def taking_labs() -> list[str]:
    """The lab hosts new labs may go to; this one when none has registered yet."""
    names = [h.name for h in fleet.alive() if h.state == LabHost.State.ACTIVE]
    return sorted(names) or [settings.WIRELAB_LABHOST]


def _shares(doc: LabDoc, students: int) -> tuple[list[str], dict[str, int]]:
    """The lab hosts taking labs, and the warm sandboxes per image each keeps for its share of
    `students` labs (placement spreads the class over them)."""
    per_lab = warmable_per_lab(doc)
    hosts = taking_labs()
    share = math.ceil(students / len(hosts))
    return hosts, {image: count * share for image, count in per_lab.items()}


def readiness(doc: LabDoc, students: int) -> dict:
    """How many of the warm sandboxes a class of `students` needs are ready now, as the lab
    hosts said at their last heartbeat: `ready` of `wanted`, and per lab host."""
    hosts, counts = _shares(doc, students)
    reported = {h.name: h.warm for h in LabHost.objects.filter(name__in=hosts)}
    per_host = {}
    for name in hosts:
        ready = {row["image"]: row["ready"] for row in reported.get(name) or []}
        per_host[name] = sum(min(ready.get(image, 0), count) for image, count in counts.items())
    wanted = sum(counts.values()) * len(hosts)
    return {"students": students, "wanted": wanted, "ready": sum(per_host.values()), "per_lab_host": per_host}


def prepare(doc: LabDoc, students: int) -> dict:
    """Ask each lab host that takes labs for its share of `students` labs' warm sandboxes;
    returns what was asked of whom."""
    hosts, counts = _shares(doc, students)
    if counts:
        for name in hosts:
            queues.send(queues.PREPARE_WARM, name, counts=counts, seconds=PREPARED_SECONDS)
    answer = {"students": students, "lab_hosts": hosts, "per_lab_host": counts, "seconds": PREPARED_SECONDS}
    most = settings.WIRELAB_POOL_MAX
    if sum(counts.values()) > most:
        answer["note"] = (
            f"a lab host keeps at most {most} warm sandboxes (WIRELAB_POOL_MAX): "
            "the rest of the class starts cold"
        )
    return answer
