"""Exercises as lab documents with an `exercise:` section: storing them, and each user's
view of one (their values drawn, their faults in the template they start from)."""

from __future__ import annotations

import json

import yaml
from django.db import transaction
from markdown_it import MarkdownIt

from topology.document import LabDoc, document_to_data, dump_document, parse_document
from topology.exercise import ExerciseDoc
from topology.faults import apply_fault, draw_faults
from topology.problems import TopologyError, error
from topology.variants import draw, substitute

from .draws import variables_of, variant_seed, varied
from .exercise_files import ExerciseFile
from .models import Course, Exercise

MAX_EXERCISES_PER_COURSE = 100
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def document_of(exercise: Exercise, user=None, number: int | None = None) -> LabDoc:
    """The exercise as `user` has it: its variables drawn for them (for the teacher: None),
    by their attempt's draw or `number`."""
    data = exercise.document
    if varied(exercise):
        data, _ = substitute(data, draw(variables_of(data), variant_seed(exercise, user, number)))
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
    if varied(exercise):
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


def shell_refusal(lab_id: int) -> str | None:
    """Why consoles and commands are refused in this lab (its exercise says so), or None."""
    from .models import Attempt

    attempt = Attempt.objects.filter(lab_id=lab_id).select_related("exercise").first()
    if attempt is not None and not rules_of(attempt.exercise).consoles:
        return "this exercise does not allow consoles or commands in its lab"
    return None
