"""An exercise's solution is its teacher's: they try it, its probes' ways become the reference a
student's failed journey is compared with, and no student reads it. Hints show one by one as a
student's tries fail. No lab host needed."""

from __future__ import annotations

import csv
import io
import json

import pytest

from labs.classroom import attempts, grading
from labs.classroom.exercise_files import read_exercise
from labs.classroom.exercises import replace_exercise
from labs.classroom.models import Attempt, Exercise
from labs.models import Lab
from tests.labs.test_classroom import EXERCISE, client_of, course, joined  # noqa: F401

pytestmark = pytest.mark.django_db

MARK = "solved-by-the-teacher-xyzzy"
SOLUTION = f"""
  solution:
    name: the solution
    description: {MARK}
    networks:
      lan: {{kind: segment, subnet: 198.18.0.0/24}}
    nodes:
      h1: {{kind: host, interfaces: {{eth0: {{network: lan, address: 198.18.0.11/24}}}}}}
      client: {{kind: host, interfaces: {{eth0: {{network: lan, address: 198.18.0.100/24}}}}}}
      web:
        kind: container
        host: h1
        image: wirelab/node:busybox
        mode: bridge
        command: [sh, -c, 'mkdir -p /www && echo published > /www/index.html && exec httpd -f -p 80 -h /www']
        ports: ['10000:80']
"""
HINTED = """
    - name: h1 has a default route
      route: {node: h1, to: default}
      hints:
        - text: look at h1's routes
        - text: the LAN's gateway is 198.18.0.1
          after: 3
"""
WAY = [["client", "eth0", "out"], ["h1", "eth0", "in"], ["h1", "docker0", "out"], ["web", "eth0", "in"]]


def _post(course, teacher, text: str):  # noqa: F811
    return client_of(teacher).post(
        f"/api/courses/{course.id}/exercises/", text, content_type="application/yaml"
    )


def _exercise(course, teacher, solution: str = SOLUTION, checks: str = "") -> Exercise:  # noqa: F811
    text = EXERCISE.replace("  kinds: []\n", "  kinds: []\n" + solution.lstrip("\n"))
    text = text.replace(
        "      reach: {from: web, to: client}\n", "      reach: {from: web, to: client}\n" + checks
    )
    response = _post(course, teacher, text)
    assert response.status_code == 201, response.data
    return Exercise.objects.get(id=response.data["id"])


def test_a_teacher_tries_the_solution_and_no_student_reads_it(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher)
    sam = joined("sam", course)
    as_teacher, as_sam = client_of(teacher), client_of(sam)
    assert as_teacher.get(f"/api/exercises/{exercise.id}/").data["rules"]["solution"] is True
    assert MARK in as_teacher.get(f"/api/exercises/{exercise.id}/export/").content.decode()

    assert as_sam.post(f"/api/exercises/{exercise.id}/solution/").status_code == 403
    assert as_sam.get(f"/api/exercises/{exercise.id}/export/").status_code == 403
    started = as_sam.post(f"/api/exercises/{exercise.id}/start/")
    assert started.status_code == 202, started.data
    lab = started.data["attempt"]["lab"]
    seen = [
        as_sam.get(f"/api/exercises/{exercise.id}/").content,
        as_sam.get(f"/api/courses/{course.id}/exercises/").content,
        as_sam.get(f"/api/labs/{lab}/").content,
        as_sam.get(f"/api/labs/{lab}/export/?as=json").content,
        as_sam.get(f"/api/attempts/{started.data['attempt']['id']}/").content,
    ]
    assert [MARK in text.decode() for text in seen] == [False] * len(seen)
    assert "solution" not in json.loads(seen[0])["rules"]

    tried = as_teacher.post(f"/api/exercises/{exercise.id}/solution/")
    assert tried.status_code == 202, tried.data
    mine = Attempt.objects.get(id=tried.data["attempt"]["id"])
    assert mine.student == teacher and mine.solution is True
    assert mine.lab.document["nodes"]["web"]["ports"] == ["10000:80"]  # past the exercise's locks
    assert tried.data["attempt"]["solution"] is True

    assert as_teacher.post(f"/api/attempts/{mine.id}/reset/").status_code in (200, 202)
    mine.refresh_from_db()
    assert mine.solution is False and "ports" not in mine.lab.document["nodes"]["web"]


def test_a_solution_is_checked_like_a_lab_and_an_exercise_without_one_says_so(course, teacher):  # noqa: F811
    broken = SOLUTION.replace("image: wirelab/node:busybox", "image: evil/miner").replace(
        "lan, address", "wan, address", 1
    )
    text = EXERCISE.replace("  kinds: []\n", "  kinds: []\n" + broken.lstrip("\n"))
    response = _post(course, teacher, text)
    assert response.status_code == 400
    said = json.dumps(response.data)
    assert "exercise.solution.nodes.h1" in said and "exercise.solution.nodes.web.image" in said, said

    assert (
        course.exercises.get(order=2).document["exercise"]["solution"]["name"] == "bridge-nat"
    )  # the demo's
    bare = _exercise(course, teacher, solution="")
    refused = client_of(teacher).post(f"/api/exercises/{bare.id}/solution/")
    assert refused.status_code == 409 and "no solution" in refused.data["detail"]


def test_the_solution_s_ways_are_the_reference_for_students_of_this_version(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher)
    sam = joined("sam", course)
    mine, _ = attempts.try_solution(exercise, teacher, enqueue=False)
    Lab.objects.filter(id=mine.lab_id).update(status="running")
    solution_round = attempts.request_check(Attempt.objects.get(id=mine.id), teacher, enqueue=False)
    assert [c.get("trace_passed", False) for c in solution_round.params["checks"]] == [True, True]
    grading.record(mine.id, [
        {"index": 0, "title": "a", "passed": True, "message": "ok", "node": "client", "weight": 2, "journey": WAY},
        {"index": 1, "title": "b", "passed": True, "message": "ok", "node": "web", "weight": 1},
    ])  # fmt: skip
    assert grading.references_of(Exercise.objects.get(id=exercise.id)) == {"0": WAY}
    assert all("journey" not in r for r in Attempt.objects.get(id=mine.id).results)

    attempt, _ = attempts.start(exercise, sam, deploy=False)
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    student_round = attempts.request_check(attempt, sam, enqueue=False)
    assert student_round.params["checks"][0]["reference"] == WAY
    assert not any("trace_passed" in c for c in student_round.params["checks"])

    replace_exercise(Exercise.objects.get(id=exercise.id), read_exercise(json.dumps(exercise.document)))
    assert grading.references_of(Exercise.objects.get(id=exercise.id)) == {}  # taken on the old version


def test_failed_tries_show_hints_one_by_one_and_periodic_rounds_show_none(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher, solution="", checks=HINTED)
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)

    def failing_round(tried: bool) -> None:
        grading.record(attempt.id, [
            {"index": i, "title": "t", "passed": i == 0, "message": "no route", "node": "h1", "weight": 1}
            for i in range(3)
        ], tried)  # fmt: skip

    def hints() -> list[str]:
        shown = client_of(sam).get(f"/api/attempts/{attempt.id}/").data["results"]
        return shown[2]["hints"]

    for _ in range(5):
        failing_round(tried=False)
    assert hints() == []
    failing_round(tried=True)
    assert hints() == ["look at h1's routes"]
    failing_round(tried=True)
    failing_round(tried=True)
    assert hints() == ["look at h1's routes", "the LAN's gateway is 198.18.0.1"]
    grid = client_of(teacher).get(f"/api/courses/{course.id}/results/").data
    row = next(s for s in grid["students"] if s["username"] == "sam")
    assert row["attempts"][str(exercise.id)]["hints_used"] == [0, 0, 2]
    text = client_of(teacher).get(f"/api/courses/{course.id}/results/?as=csv").content.decode()
    header, *rows = list(csv.reader(io.StringIO(text)))
    column = header.index(f"{exercise.title}: h1 has a default route: hints used")
    assert next(r for r in rows if r[0] == "sam")[column] == "2"


def test_a_round_on_the_exercise_s_start_is_no_try_of_the_student_s(course, teacher):  # noqa: F811
    from labs.classroom.exercises import untouched
    from labs.store.documents import lab_document, save_document
    from topology.document import parse_document

    exercise = course.exercises.get(order=2)
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    lab = Lab.objects.get(id=attempt.lab_id)
    assert untouched(exercise, lab.document)
    moved = lab_document(lab)
    moved.nodes["h1"].position.x += 40  # a node dragged is no change the checks see
    save_document(moved, sam, lab)
    assert untouched(exercise, Lab.objects.get(id=lab.id).document)
    data = Lab.objects.get(id=lab.id).document
    data["nodes"]["web"]["ports"] = ["10001:80"]
    save_document(parse_document(data), sam, lab)
    assert not untouched(exercise, Lab.objects.get(id=lab.id).document)


def test_the_dashboard_offers_the_solution_to_teachers_only(course, teacher):  # noqa: F811
    from tests.labs.test_classroom import page_client

    sam = joined("sam", course)
    exercise = course.exercises.get(order=2)
    page = page_client(teacher).get(f"/courses/{course.id}/").content.decode()
    assert f'data-solution="{exercise.id}"' in page
    assert "Try the solution" not in page_client(sam).get(f"/courses/{course.id}/").content.decode()
    url = f"/courses/{course.id}/exercises/{exercise.id}/solution/"
    assert page_client(sam).post(url).status_code == 404
    response = page_client(teacher).post(url)
    mine = Attempt.objects.get(exercise=exercise, student=teacher)
    assert response.status_code == 302 and response["Location"] == f"/labs/{mine.lab_id}/"
    assert mine.solution is True
