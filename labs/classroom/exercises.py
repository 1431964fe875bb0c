"""Exercises as lab documents with an `exercise:` section: reading and storing them, the
template a student's lab starts from, and what a student's edits may change."""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.db import transaction
from markdown_it import MarkdownIt

from topology.document import LabDoc, document_to_data, dump_document, parse_document
from topology.exercise import ExerciseDoc
from topology.importing import read_lab
from topology.problems import Problem, TopologyError, error, errors_in, join_path
from topology.validation import validate

from ..images import current_policy
from .models import Course, Exercise

MAX_EXERCISES_PER_COURSE = 100
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def read_exercise(text: str | bytes) -> LabDoc:
    """An exercise file: a lab document whose `exercise:` section is there and valid."""
    doc, problems = read_lab(text, settings.WIRELAB_MAX_DOCUMENT_BYTES, current_policy())
    if doc is not None and doc.exercise is None:
        problems = [*problems, error("exercise", "an exercise file needs an `exercise:` section")]
    elif doc is not None and doc.exercise.solution is not None:
        problems = [*problems, *_solution_problems(doc.exercise.solution)]
    if errors_in(problems):
        raise TopologyError(problems)
    return doc


def _solution_problems(data: dict) -> list[Problem]:
    """What is wrong with an exercise's solution, each at its place under `exercise.solution`."""
    try:
        solution, found = parse_document(data), []
    except TopologyError as exc:
        solution, found = None, exc.problems
    if solution is not None:
        found = problems_of(solution)
        if solution.exercise is not None:
            found.append(error("exercise", "a solution is a lab: it has no exercise section of its own"))
    return [replace(p, path=join_path("exercise", "solution", p.path) if p.path else "exercise.solution")
            for p in found]  # fmt: skip


def document_of(exercise: Exercise) -> LabDoc:
    return parse_document(exercise.document)


def rules_of(exercise: Exercise) -> ExerciseDoc:
    return document_of(exercise).exercise or ExerciseDoc()


def template_of(exercise: Exercise) -> LabDoc:
    """The lab a student starts from: the document without its exercise section."""
    return document_of(exercise).model_copy(update={"exercise": None})


def solution_of(exercise: Exercise) -> LabDoc | None:
    """The lab that solves the exercise, if its teacher gave one."""
    data = rules_of(exercise).solution
    return parse_document(data) if data is not None else None


def untouched(exercise: Exercise, data: dict) -> bool:
    """Whether a lab's stored document is still the exercise's start (names and places aside):
    a round of checks on it is no try of the student's."""
    start = document_to_data(template_of(exercise))
    aside = ("name", "description")
    return _unplaced({k: v for k, v in start.items() if k not in aside}) == _unplaced(
        {k: v for k, v in data.items() if k not in aside}
    )


def _unplaced(data):
    if isinstance(data, dict):
        return {k: _unplaced(v) for k, v in data.items() if k != "position"}
    if isinstance(data, list):
        return [_unplaced(v) for v in data]
    return data


def export_exercise(exercise: Exercise, fmt: str = "yaml") -> str:
    return dump_document(document_of(exercise), "json" if fmt == "json" else "yaml")


def title_of(doc: LabDoc) -> str:
    return (doc.exercise.title if doc.exercise else "") or doc.name


@transaction.atomic
def add_exercise(course: Course, doc: LabDoc) -> Exercise:
    Course.objects.select_for_update().filter(id=course.id).first()
    count = course.exercises.count()
    if count >= MAX_EXERCISES_PER_COURSE:
        raise TopologyError([error("", f"a course has at most {MAX_EXERCISES_PER_COURSE} exercises")])
    return Exercise.objects.create(
        course=course, title=title_of(doc)[:200], order=count + 1, document=document_to_data(doc)
    )


def replace_exercise(exercise: Exercise, doc: LabDoc) -> Exercise:
    """A new version of the exercise; students' labs made from the old one keep theirs."""
    exercise.title, exercise.document = title_of(doc)[:200], document_to_data(doc)
    exercise.version += 1
    exercise.save(update_fields=["title", "document", "version", "updated"])
    return exercise


def instructions_html(exercise: Exercise) -> str:
    """The instructions as HTML: Markdown with raw HTML escaped and unsafe links refused."""
    return _markdown.render(rules_of(exercise).instructions)


def student_edit_problems(exercise: Exercise, doc: LabDoc) -> list[Problem]:
    """What a student's new document changes that the exercise does not allow."""
    rules, template = rules_of(exercise), template_of(exercise)
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
    if "services" not in rules.unlocked and _services(template) != _services(doc):
        message = (
            "services rewrite traffic in every host and router, locked ones too: this exercise keeps them"
        )
        out.append(error("services", message))
    return out


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


def problems_of(doc: LabDoc) -> list[Problem]:
    return validate(doc, images=current_policy())


def shell_refusal(lab_id: int) -> str | None:
    """Why consoles and commands are refused in this lab (its exercise says so), or None."""
    from .models import Attempt

    attempt = Attempt.objects.filter(lab_id=lab_id).select_related("exercise").first()
    if attempt is not None and not rules_of(attempt.exercise).consoles:
        return "this exercise does not allow consoles or commands in its lab"
    return None
