"""A troubleshooting exercise: each student's lab is the working lab broken by faults drawn
for them, no two alike while the catalogue allows, the teacher sees who got which, and a fault
a student could not undo is refused when the exercise is added. No lab host needed."""

from __future__ import annotations

from pathlib import Path

import pytest

from labs.classroom import attempts
from labs.classroom.exercises import faults_of, template_of
from labs.classroom.models import Exercise
from labs.models import Lab
from tests.labs.test_classroom import client_of, course, joined  # noqa: F401

pytestmark = pytest.mark.django_db
TROUBLESHOOTING = (Path(__file__).parent / "troubleshooting.yaml").read_text()


def added(course, teacher, text: str = TROUBLESHOOTING):  # noqa: F811
    return client_of(teacher).post(
        f"/api/courses/{course.id}/exercises/", text, content_type="application/yaml"
    )


def test_each_student_gets_their_own_faults_and_the_teacher_sees_them(course, teacher):  # noqa: F811
    response = added(course, teacher)
    assert response.status_code == 201, response.data
    exercise = Exercise.objects.get(id=response.data["id"])
    assert template_of(exercise).nodes["client"].routes  # the teacher's own view: the working lab
    got = {}
    for name in ("sam", "kim", "lou"):
        student = joined(name, course)
        attempt, _ = attempts.start(exercise, student, deploy=False)
        got[name] = faults_of(exercise, student)
        nodes = Lab.objects.get(id=attempt.lab_id).document["nodes"]
        broken = {
            "client's route to 198.18.2.0/24 is missing": "routes" not in nodes["client"],
            "h1's route to 198.18.1.0/24 goes via 198.18.2.99": nodes["h1"]["routes"][0]["via"]
            == "198.18.2.99",
            "web's published port leads to 8080, where nothing listens": nodes["web"]["ports"]
            == ["10000:8080"],
        }
        assert [fault for fault, there in broken.items() if there] == got[name]
        Lab.objects.filter(id=attempt.lab_id).update(status="running")
        planned = attempts.request_check(attempt, student, enqueue=False).params["checks"]
        assert planned[1]["pulled"] == ["client:eth0"] and "pulled" not in planned[0]
    assert len({tuple(faults) for faults in got.values()}) == 3  # three students, three faults

    grid = client_of(teacher).get(f"/api/courses/{course.id}/results/").data
    shown = {s["username"]: s["attempts"][str(exercise.id)]["faults"] for s in grid["students"]}
    assert shown == got
    sam = next(s for s in grid["students"] if s["username"] == "sam")
    assert (
        "faults"
        not in client_of(joined("max", course))
        .get(f"/api/attempts/{sam['attempts'][str(exercise.id)]['id']}/")
        .data
    )


def test_a_fault_students_could_not_undo_or_that_names_nothing_is_refused(course, teacher):  # noqa: F811
    locked = TROUBLESHOOTING.replace("  locked: [r1]", "  locked: [r1, h1]")
    response = added(course, teacher, locked)
    assert response.status_code == 400
    assert "exercise.faults.from[1]" in str(response.data) and "h1 is locked" in str(response.data)
    nothing = TROUBLESHOOTING.replace(
        "route: {node: client, to: 198.18.2.0/24}", "route: {node: client, to: 10.9.0.0/16}"
    )
    response = added(course, teacher, nothing)
    assert response.status_code == 400 and "client has no route to 10.9.0.0/16" in str(response.data)
    offnet = TROUBLESHOOTING.replace("via: 198.18.2.99", "via: nowhere")
    response = added(course, teacher, offnet)
    assert response.status_code == 400 and "the lab with this fault is no lab" in str(response.data)
