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
            {"id": e.id, "title": e.title, "checks": [c.title() for c in rules_of(e).checks]}
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


def results_csv(course: Course, grid: dict) -> HttpResponse:
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["student"]
    for exercise in grid["exercises"]:
        header += [f"{exercise['title']}: score", *[f"{exercise['title']}: {c}" for c in exercise["checks"]]]
    writer.writerow(header)
    for student in grid["students"]:
        row = [student["username"]]
        for exercise in grid["exercises"]:
            attempt = student["attempts"][str(exercise["id"])]
            results = {r["index"]: r for r in (attempt or {}).get("results", [])}
            row.append(f"{attempt['score']:.2f}" if attempt else "")
            row += ["pass" if results.get(i, {}).get("passed") else ("fail" if i in results else "")
                    for i in range(len(exercise["checks"]))]  # fmt: skip
        writer.writerow(row)
    response = HttpResponse(out.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="course-{course.id}-results.csv"'
    return response
