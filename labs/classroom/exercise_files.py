"""Exercise files as teachers write them: a lab document with an `exercise:` section, read and
checked whole (its faults each tried on the working lab, its solution as a lab), and, when it
has variables, checked as drawn for a few students."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

from django.conf import settings
from pydantic import ValidationError

from topology.document import LabDoc, document_to_data, load_text, parse_document
from topology.faults import apply_fault
from topology.importing import read_lab
from topology.problems import Problem, TopologyError, error, errors_in, join_path
from topology.validation import validate
from topology.variants import draw, substitute

from ..images import current_policy
from .draws import variables_of

SAMPLE_SEEDS = ("first student", "second student", "third student")  # the draws checked on adding


@dataclass(frozen=True)
class ExerciseFile:
    """An exercise as read: the lab as its teacher reads it, and what is stored (the same,
    or, when it has variables, the document with its places for them)."""

    doc: LabDoc
    data: dict


def read_exercise(text: str | bytes) -> ExerciseFile:
    """An exercise file: a lab document whose `exercise:` section is there and valid. One with
    variables is checked as drawn for a few students, so a place that breaks a draw is named."""
    data = _withvariables_of(text)
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


def _withvariables_of(text: str | bytes) -> dict | None:
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
        values = draw(variables_of(data), seed)
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


def problems_of(doc: LabDoc) -> list[Problem]:
    return validate(doc, images=current_policy())
