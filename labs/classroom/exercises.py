"""Exercises as lab documents with an `exercise:` section: reading and storing them, the
template a student's lab starts from, and what a student's edits may change."""

from __future__ import annotations

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
    if errors_in(problems):
        raise TopologyError(problems)
    return doc


def document_of(exercise: Exercise) -> LabDoc:
    return parse_document(exercise.document)


def rules_of(exercise: Exercise) -> ExerciseDoc:
    return document_of(exercise).exercise or ExerciseDoc()


def template_of(exercise: Exercise) -> LabDoc:
    """The lab a student starts from: the document without its exercise section."""
    return document_of(exercise).model_copy(update={"exercise": None})


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
    if rules.kinds is not None:
        allowed = ", ".join(rules.kinds) or "none"
        for name, node in doc.nodes.items():
            if name not in template.nodes and node.kind not in rules.kinds:
                message = f"this exercise lets you add nodes of kinds {allowed}, not {node.kind}"
                out.append(error(join_path("nodes", name, "kind"), message))
    return out


def _without_position(node) -> dict:
    return node.model_dump(exclude={"position"})


def problems_of(doc: LabDoc) -> list[Problem]:
    return validate(doc, images=current_policy())


def shell_refusal(lab_id: int) -> str | None:
    """Why consoles and commands are refused in this lab (its exercise says so), or None."""
    from .models import Attempt

    attempt = Attempt.objects.filter(lab_id=lab_id).select_related("exercise").first()
    if attempt is not None and not rules_of(attempt.exercise).consoles:
        return "this exercise does not allow consoles or commands in its lab"
    return None
