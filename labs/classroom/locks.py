"""What a student's edits may change in their lab of an exercise: locked nodes stay as the
exercise has them, with their cables, their networks and the lab's services (unless it
unlocks cables or services), and new nodes are of the kinds it allows."""

from __future__ import annotations

from topology.document import LabDoc
from topology.exercise import ExerciseDoc
from topology.orchestrator import vips
from topology.problems import Problem, error, join_path

from .exercises import rules_of, template_of
from .models import Exercise


def student_edit_problems(exercise: Exercise, doc: LabDoc, student=None) -> list[Problem]:
    """What a student's new document changes that the exercise does not allow."""
    rules, template = rules_of(exercise, student), template_of(exercise, student)
    out = []
    if doc.exercise is not None:
        out.append(error("exercise", "a student's lab cannot carry an exercise section"))
    for name in rules.locked:
        path = join_path("nodes", name)
        if name not in doc.nodes:
            out.append(error(path, f"{name} is locked by the exercise: it cannot be removed"))
        elif _without_position(doc.nodes[name]) != _without_position(template.nodes[name]):
            out.append(error(path, f"{name} is locked by the exercise: it cannot be changed"))
    out += _around_locked(rules, template, doc)
    if rules.kinds is not None:
        allowed = ", ".join(rules.kinds) or "none"
        for name, node in doc.nodes.items():
            if name not in template.nodes and node.kind not in rules.kinds:
                message = f"this exercise lets you add nodes of kinds {allowed}, not {node.kind}"
                out.append(error(join_path("nodes", name, "kind"), message))
    return out


def _without_position(part) -> dict:
    return part.model_dump(exclude={"position"})


def _around_locked(rules: ExerciseDoc, template: LabDoc, doc: LabDoc) -> list[Problem]:
    """What reaches into a locked node from outside it: a cable to it, a network it is on (or
    that lives on it), and the lab's services, which rewrite traffic in every host and router.
    All stay as the exercise has them, unless it unlocks cables or services. (Containers on a
    locked host are the student's to change: publishing one is what exercises ask.)"""
    locked = set(rules.locked)
    if not locked:
        return []
    out = []
    if "cables" not in rules.unlocked:
        out += _cables_to(locked, template, doc)
    for name in sorted(_networks_of(locked, template) | _networks_of(locked, doc)):
        before, now = template.networks.get(name), doc.networks.get(name)
        if before is None or now is None or _without_position(before) != _without_position(now):
            what = "removed" if now is None else "changed" if before is not None else "added"
            out.append(error(join_path("networks", name), f"{name} joins a locked node: it cannot be {what}"))
    if "services" not in rules.unlocked and (_services(template), _vips(template)) != (
        _services(doc),
        _vips(doc),
    ):
        message = (
            "services rewrite traffic in every host and router, locked ones too: this exercise keeps them"
        )
        out.append(error("services", message))
    return out


def _vips(doc: LabDoc) -> dict:
    """The services apps' VIP labels make."""
    return {name: vips(app) for name, app in doc.apps.items() if vips(app)}


def _cables_to(locked: set[str], template: LabDoc, doc: LabDoc) -> list[Problem]:
    def cables(lab: LabDoc) -> dict[frozenset, dict]:
        return {
            frozenset(link.endpoints): _without_position(link)
            for link in lab.links
            if _locked_end(link.endpoints, locked)
        }

    before, now = cables(template), cables(doc)
    out = []
    for index, link in enumerate(doc.links):
        ends = frozenset(link.endpoints)
        if ends in now and before.get(ends) != now[ends]:
            node = _locked_end(link.endpoints, locked)
            out.append(
                error(join_path("links", index), f"{node} is locked by the exercise: no new cable to it")
            )
    for ends in before.keys() - now.keys():
        cable = " -- ".join(sorted(ends))
        out.append(error("links", f"{_locked_end(ends, locked)} is locked by the exercise: {cable} stays"))
    return out


def _locked_end(ends, locked: set[str]) -> str:
    """The first locked node a cable's ends name ('' when none)."""
    return next((node for node in sorted(e.partition(":")[0] for e in ends) if node in locked), "")


def _networks_of(locked: set[str], doc: LabDoc) -> set[str]:
    on = {
        iface.network
        for name in locked
        if name in doc.nodes
        for iface in doc.nodes[name].interfaces.values()
        if iface.network
    }
    return on | {name for name, network in doc.networks.items() if network.host in locked}


def _services(doc: LabDoc) -> dict:
    return {name: _without_position(service) for name, service in doc.services.items()}
