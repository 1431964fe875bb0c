"""Exercises as lab documents with an `exercise:` section: reading and storing them, the
template a student's lab starts from, and what a student's edits may change."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from ipaddress import IPv4Network, IPv6Network

import yaml
from django.conf import settings
from django.db import transaction
from markdown_it import MarkdownIt
from pydantic import ValidationError

from topology.document import LabDoc, document_to_data, dump_document, load_text, parse_document
from topology.exercise import ExerciseDoc
from topology.faults import apply_fault, draw_faults
from topology.importing import read_lab
from topology.problems import Problem, TopologyError, error, errors_in, join_path
from topology.validation import validate
from topology.variants import VariableDoc, draw, substitute

from ..images import current_policy
from .models import Attempt, Course, Exercise

MAX_EXERCISES_PER_COURSE = 100
MAX_REDRAWS = 50
IPNetwork = IPv4Network | IPv6Network
SAMPLE_SEEDS = ("first student", "second student", "third student")  # the draws checked on adding
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


@dataclass(frozen=True)
class ExerciseFile:
    """An exercise as read: the lab as its teacher reads it, and what is stored (the same,
    or, when it has variables, the document with its places for them)."""

    doc: LabDoc
    data: dict


def read_exercise(text: str | bytes) -> ExerciseFile:
    """An exercise file: a lab document whose `exercise:` section is there and valid. One with
    variables is checked as drawn for a few students, so a place that breaks a draw is named."""
    data = _with_variables(text)
    if data is None:
        doc, notes = read_lab(text, settings.WIRELAB_MAX_DOCUMENT_BYTES, current_policy())
        _refuse(notes + _exercise_problems(doc))
        return ExerciseFile(doc, document_to_data(doc))
    problems: list[Problem] = []
    drawn: list[LabDoc] = []
    for seed in SAMPLE_SEEDS:
        one, found = _drawn(data, seed)
        drawn += [one] if one is not None else []
        problems += [p for p in found if p not in problems]
    _refuse(problems)
    return ExerciseFile(drawn[0], data)


def _refuse(problems: list[Problem]) -> None:
    if errors_in(problems):
        raise TopologyError(problems)


def _exercise_problems(doc: LabDoc) -> list[Problem]:
    if doc.exercise is None:
        return [error("exercise", "an exercise file needs an `exercise:` section")]
    found = _fault_problems(doc)
    return found + (_solution_problems(doc.exercise.solution) if doc.exercise.solution is not None else [])


def _fault_problems(doc: LabDoc) -> list[Problem]:
    """Faults a student could not undo (on a locked node) or that name what the lab has not,
    each tried on the working lab alone."""
    rules = doc.exercise
    if rules is None or rules.faults is None:
        return []
    working = {k: v for k, v in document_to_data(doc).items() if k != "exercise"}
    out = []
    for index, fault in enumerate(rules.faults.from_):
        path = join_path("exercise", "faults", "from", index)
        if fault.node() in rules.locked:
            out.append(error(path, f"{fault.node()} is locked: a student could not undo this fault"))
            continue
        try:
            broken = parse_document(apply_fault(working, fault))
        except ValueError as exc:
            out.append(error(path, str(exc)))
            continue
        except TopologyError as exc:
            out.append(error(path, "; ".join(map(str, exc.problems))))
            continue
        out += [
            error(path, f"the lab with this fault is no lab: {p}") for p in errors_in(problems_of(broken))
        ]
    return out


def _with_variables(text: str | bytes) -> dict | None:
    """The file's data, if it is a Wirelab document whose exercise has variables."""
    try:
        data = load_text(text, settings.WIRELAB_MAX_DOCUMENT_BYTES)
    except TopologyError:
        return None  # read as any lab, to say what is wrong
    exercise = data.get("exercise") if isinstance(data, dict) else None
    return data if isinstance(exercise, dict) and exercise.get("variables") else None


def _drawn(data: dict, seed: str) -> tuple[LabDoc | None, list[Problem]]:
    """The exercise with its variables drawn from `seed`, and what is wrong with it so."""
    try:
        values = draw(_variables(data), seed)
    except ValidationError as exc:
        where = [
            (join_path("exercise", *e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()
        ]
        return None, [error(path, message) for path, message in where]
    except ValueError as exc:  # a pool too small for the subnets drawn from it
        return None, [error("exercise.variables", str(exc))]
    filled, problems = substitute(data, values)
    if problems:
        return None, problems
    try:
        doc, found = read_lab(json.dumps(filled), settings.WIRELAB_MAX_DOCUMENT_BYTES, current_policy())
    except TopologyError as exc:
        return None, exc.problems
    return doc, found + _exercise_problems(doc)


def _variables(data: dict) -> dict[str, VariableDoc]:
    return ExerciseDoc.model_validate({"variables": data["exercise"]["variables"]}).variables


def variant_seed(exercise: Exercise, user=None, number: int | None = None) -> str:
    """The seed of a user's draw of the exercise's variables (their attempt's, or `number`):
    the same for them every time, not guessable by others (the server's secret is in it)."""
    if number is None:
        number = _draw_number(exercise, user)
    who = f"user {user.pk}" if user is not None else "teacher"
    message = f"variant:{exercise.pk}:{who}:{number}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()[:24]


def _draw_number(exercise: Exercise, user) -> int:
    if user is None:
        return 0
    found = Attempt.objects.filter(exercise=exercise, student=user).values_list("draw", flat=True).first()
    return found or 0


def fresh_draw(exercise: Exercise, student) -> int:
    """The draw for a new attempt: the first whose subnets overlap none of the other attempts'
    at the exercise, then whose faults no other has, then whose values no other has."""
    variables = _variables(exercise.document) if _varied(exercise) else {}
    faults = rules_of(exercise).faults
    if not variables and faults is None:
        return 0

    def drawn(user, number: int) -> tuple[dict, list[int]]:
        seed = variant_seed(exercise, user, number)
        return draw(variables, seed), draw_faults(faults, seed) if faults else []

    others = [drawn(a.student, a.draw) for a in exercise.attempts.select_related("student")]
    nets = [v for values, _ in others for v in values.values() if isinstance(v, IPNetwork)]

    def clashes(number: int) -> tuple[bool, bool, bool]:
        values, chosen = drawn(student, number)
        mine = [v for v in values.values() if isinstance(v, IPNetwork)]
        overlaps = any(v.overlaps(n) for v in mine for n in nets)
        return overlaps, any(chosen == f for _, f in others), any(values == v for v, _ in others)

    return min(range(MAX_REDRAWS), key=clashes)


def _varied(exercise: Exercise) -> bool:
    return bool((exercise.document.get("exercise") or {}).get("variables"))


def variant_of(exercise: Exercise, user=None) -> dict[str, str]:
    """The values drawn for a user (the teacher's own: None), as text; empty without variables."""
    if not _varied(exercise):
        return {}
    return {
        name: str(value)
        for name, value in draw(_variables(exercise.document), variant_seed(exercise, user)).items()
    }


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


def document_of(exercise: Exercise, user=None, number: int | None = None) -> LabDoc:
    """The exercise as `user` has it: its variables drawn for them (for the teacher: None),
    by their attempt's draw or `number`."""
    data = exercise.document
    if _varied(exercise):
        data, _ = substitute(data, draw(_variables(data), variant_seed(exercise, user, number)))
    return parse_document(data)


def rules_of(exercise: Exercise, user=None) -> ExerciseDoc:
    return document_of(exercise, user).exercise or ExerciseDoc()


def template_of(exercise: Exercise, user=None, number: int | None = None) -> LabDoc:
    """The lab a student starts from: the document without its exercise section, and with the
    faults drawn for them (a troubleshooting exercise; the teacher's own view has none)."""
    doc = document_of(exercise, user, number)
    faults = doc.exercise.faults if doc.exercise else None
    if faults is None or user is None:
        return doc.model_copy(update={"exercise": None})
    data = {k: v for k, v in document_to_data(doc).items() if k != "exercise"}
    for index in draw_faults(faults, variant_seed(exercise, user, number)):
        data = apply_fault(data, faults.from_[index])
    return parse_document(data)


def faults_of(exercise: Exercise, user) -> list[str]:
    """What the faults drawn for a student's lab are, as the teacher reads them."""
    faults = rules_of(exercise, user).faults
    if faults is None:
        return []
    return [faults.from_[i].describe() for i in draw_faults(faults, variant_seed(exercise, user))]


def solution_of(exercise: Exercise, user=None) -> LabDoc | None:
    """The lab that solves the exercise, if its teacher gave one."""
    data = rules_of(exercise, user).solution
    return parse_document(data) if data is not None else None


def untouched(exercise: Exercise, data: dict, user=None) -> bool:
    """Whether a lab's stored document is still the exercise's start (names and places aside):
    a round of checks on it is no try of the student's."""
    start = document_to_data(template_of(exercise, user))
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
    """The exercise file as stored: with the places of its variables, if it has some."""
    if _varied(exercise):
        data = exercise.document
        if fmt == "json":
            return json.dumps(data, indent=2) + "\n"
        return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
    return dump_document(document_of(exercise), "json" if fmt == "json" else "yaml")


def title_of(doc: LabDoc) -> str:
    return (doc.exercise.title if doc.exercise else "") or doc.name


def _stored(read: ExerciseFile | LabDoc) -> ExerciseFile:
    return read if isinstance(read, ExerciseFile) else ExerciseFile(read, document_to_data(read))


@transaction.atomic
def add_exercise(course: Course, read: ExerciseFile | LabDoc) -> Exercise:
    Course.objects.select_for_update().filter(id=course.id).first()
    count = course.exercises.count()
    if count >= MAX_EXERCISES_PER_COURSE:
        raise TopologyError([error("", f"a course has at most {MAX_EXERCISES_PER_COURSE} exercises")])
    read = _stored(read)
    return Exercise.objects.create(
        course=course, title=title_of(read.doc)[:200], order=count + 1, document=read.data
    )


def replace_exercise(exercise: Exercise, read: ExerciseFile | LabDoc) -> Exercise:
    """A new version of the exercise; students' labs made from the old one keep theirs."""
    read = _stored(read)
    exercise.title, exercise.document = title_of(read.doc)[:200], read.data
    exercise.version += 1
    exercise.save(update_fields=["title", "document", "version", "updated"])
    return exercise


def instructions_html(exercise: Exercise, user=None) -> str:
    """The instructions as HTML: Markdown with raw HTML escaped and unsafe links refused."""
    return _markdown.render(rules_of(exercise, user).instructions)


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
