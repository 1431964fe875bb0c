"""A course's results: students by checks, as the API returns them and as CSV."""

from __future__ import annotations

import csv
import io

from django.http import HttpResponse

from .. import grading
from ..exercises import (
    rules_of,
)
from ..models import Attempt, Course, Membership


def results_grid(course: Course) -> dict:
    exercises = list(course.exercises.all())
    students = Membership.objects.filter(course=course, role=Membership.Role.STUDENT).select_related("user")
    found = Attempt.objects.filter(exercise__course=course).select_related("lab", "student", "exercise")
    by = {(a.student_id, a.exercise_id): grading.summary(a, teacher=True) for a in found}
    return {
        "exercises": [
            {
                "id": e.id,
                "title": e.title,
                "checks": [c.title() for c in rules_of(e).checks],
                "hints": [len(c.hints) for c in rules_of(e).checks],
            }
            for e in exercises
        ],
        "students": [
            {
                "username": m.user.username,
                "attempts": {str(e.id): by.get((m.user_id, e.id)) for e in exercises},
            }
            for m in students
        ],
    }


TIMES = ("first passed", "last checked", "late")


def results_csv(course: Course, grid: dict) -> HttpResponse:
    """A row a student: per exercise the score, when every check first passed, when it was
    last checked, whether late; then each check's result, and the hints it showed (checks
    that have hints)."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["student"]
    for exercise in grid["exercises"]:
        title = exercise["title"]
        header += [f"{title}: score", *(f"{title}: {t}" for t in TIMES)]
        for check, hints in zip(exercise["checks"], exercise["hints"], strict=True):
            header += [f"{title}: {check}", *([f"{title}: {check}: hints used"] if hints else [])]
    writer.writerow(header)
    for student in grid["students"]:
        row = [student["username"]]
        for exercise in grid["exercises"]:
            row += _exercise_cells(exercise, student["attempts"][str(exercise["id"])])
        writer.writerow(row)
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="course-{course.id}-results.csv"'
    return response


def _exercise_cells(exercise: dict, attempt: dict | None) -> list[str]:
    if attempt is None:
        return [""] * (1 + len(TIMES) + len(exercise["checks"]) + sum(1 for h in exercise["hints"] if h))
    results = {r["index"]: r for r in attempt["results"]}
    used = attempt.get("hints_used", [])
    cells = [
        f"{attempt['score']:.2f}",
        attempt["first_passed"] or "",
        attempt["checked"] or "",
        "late" if attempt["late"] else "",
    ]
    for index, hints in enumerate(exercise["hints"]):
        result = results.get(index)
        cells.append("" if result is None else "pass" if result["passed"] else "fail")
        if hints:
            cells.append(str(used[index] if index < len(used) else 0))
    return cells
