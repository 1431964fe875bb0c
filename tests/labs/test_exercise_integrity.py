"""An exercise stays its teacher's: students never read a check's pattern or expected text
(not in results, titles, jobs, share links or clones), locks hold against cables, networks and
services, and after `closes` nothing counts as on time. No lab host needed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from labs import sharing
from labs.classroom import attempts, grading
from labs.classroom.models import Attempt, Exercise
from labs.labfiles import import_lab
from labs.models import Lab, Operation, ShareLink
from tests.labs.test_classroom import EXERCISE, client_of, course, joined  # noqa: F401

pytestmark = pytest.mark.django_db

SECRETS = ("ANSWER-KEY", "FLAG-[a-z]{6}-SECRET", "only-the-teacher-knows", "cat /etc/answer")
SECRET_CHECKS = """
    - command: {node: client, run: "cat /etc/answer", output: "^ANSWER-KEY-[0-9]{4}$"}
    - name: the client's hostname is the flag
      file: {node: client, path: /etc/hostname, matches: "FLAG-[a-z]{6}-SECRET"}
      hint: set the hostname the instructions give
    - reach: {from: client, to: "198.18.0.11:10000", contains: only-the-teacher-knows}
"""
# The messages a lab host writes for those checks when they fail (worker/checks.py).
FAILED = [
    {
        "index": 2,
        "passed": False,
        "message": "the output does not match /^ANSWER-KEY-[0-9]{4}$/ (it ends: x)",
    },
    {"index": 3, "passed": False, "message": "/etc/hostname on client does not match /FLAG-[a-z]{6}-SECRET/"},
    {
        "index": 4,
        "passed": False,
        "message": "HTTP 200, but the page does not contain 'only-the-teacher-knows'",
    },
    {"index": 0, "passed": False, "message": "connection refused"},
]


def _exercise(course, teacher, extra: str = "", checks: str = SECRET_CHECKS) -> Exercise:  # noqa: F811
    text = EXERCISE.replace("  locked: [h1, client]", "  locked: [h1, client]\n" + extra.rstrip())
    text = text.replace(
        "      reach: {from: web, to: client}\n", "      reach: {from: web, to: client}\n" + checks
    )
    response = client_of(teacher).post(
        f"/api/courses/{course.id}/exercises/", text, content_type="application/yaml"
    )
    assert response.status_code == 201, response.data
    return Exercise.objects.get(id=response.data["id"])


def _leaks(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


def test_a_student_reads_no_pattern_of_a_check_anywhere(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher)
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    op = attempts.request_check(attempt, sam, enqueue=False)
    results = [{"title": "t", "node": "client", "weight": 1, **r} for r in FAILED]
    heard = []
    grading._send, sent = (lambda group, message: heard.append((group, message))), grading._send
    try:
        grading.record(attempt.id, results)
        grading.each_result(attempt.lab.tag, attempt, results[0])
    finally:
        grading._send = sent

    api = client_of(sam)
    shown = api.get(f"/api/attempts/{attempt.id}/").data
    assert not _leaks(str(shown)), shown
    by_index = {r["index"]: r for r in shown["results"]}
    assert by_index[2] == {
        **by_index[2],
        "title": "a check on client",
        "message": "the check on client did not pass yet",
    }
    assert by_index[3]["message"] == "set the hostname the instructions give"  # the teacher's hint
    assert by_index[4]["message"] == "this is not what the exercise asks for yet"
    assert by_index[0]["message"] == "connection refused"  # what the lab did, which gives nothing away
    read = [
        api.get(f"/api/exercises/{exercise.id}/").content.decode(),
        api.get(f"/api/labs/{attempt.lab_id}/").content.decode(),
        api.get(f"/api/labs/{attempt.lab_id}/operations/").content.decode(),
        api.get(f"/api/labs/{attempt.lab_id}/export/").content.decode(),
        api.get(f"/api/operations/{op.id}/").content.decode(),
    ]
    for text in read:
        assert not _leaks(text), text
    to_the_lab = [m for group, m in heard if not group.startswith("course.")]
    assert to_the_lab and not _leaks(str(to_the_lab))
    assert api.get(f"/api/exercises/{exercise.id}/export/").status_code == 403

    # The teacher reads each check as written, on the dashboard and in the attempt.
    teacher_api = client_of(teacher)
    assert "ANSWER-KEY" in str(teacher_api.get(f"/api/attempts/{attempt.id}/").data)
    assert "ANSWER-KEY" in str(teacher_api.get(f"/api/courses/{course.id}/results/").data)
    to_the_course = [m for group, m in heard if group.startswith("course.")]
    assert "FLAG-[a-z]{6}-SECRET" in str(to_the_course)


def test_a_lab_made_from_an_exercise_shares_and_clones_without_it(course, teacher):  # noqa: F811
    text = EXERCISE.replace(
        "      reach: {from: web, to: client}\n", "      reach: {from: web, to: client}\n" + SECRET_CHECKS
    )
    lab, _ = import_lab(text, teacher)
    assert "exercise" in lab.document  # the teacher's own lab keeps it
    for snapshot in (False, True):
        _, token = sharing.create_link(lab, teacher, mode=ShareLink.Mode.CLONE, snapshot=snapshot)
        seen = APIClient().get("/api/shared/", HTTP_X_WIRELAB_SHARE=token)
        assert seen.status_code == 200 and "exercise" not in seen.json()["document"]
        assert not _leaks(seen.content.decode())
        visitor = joined(f"vic{int(snapshot)}", course)
        cloned = client_of(visitor).post("/api/shared/clone/", HTTP_X_WIRELAB_SHARE=token)
        assert cloned.status_code == 201, cloned.content
        copy = Lab.objects.get(id=cloned.json()["id"])
        assert "exercise" not in copy.document and not _leaks(str(copy.document))


def test_locks_hold_against_cables_networks_and_services(course):  # noqa: F811
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=2), sam, deploy=False)  # h1, client locked
    api, lab = client_of(sam), attempt.lab_id
    doc = api.get(f"/api/labs/{lab}/export/?as=json").json()

    def problems(change) -> list[tuple[str, str]]:
        changed = change({**doc, "nodes": {**doc["nodes"]}, "networks": {**doc["networks"]}})
        response = api.put(f"/api/labs/{lab}/document/", json.dumps(changed), content_type="application/json")
        assert response.status_code == 400, response.data
        return [(p["path"], p["message"]) for p in response.data["problems"] if p["severity"] == "error"]

    def cable(d):
        d["links"] = [{"endpoints": ["h1:eth9", "client:eth9"]}]
        return d

    assert ("links[0]", "client is locked by the exercise: no new cable to it") in problems(cable)

    def service(d):
        d["services"] = {"vip": {"address": "198.18.0.200", "port": 80, "backends": ["client"]}}
        return d

    kept = "services rewrite traffic in every host and router, locked ones too: this exercise keeps them"
    assert problems(service) == [("services", kept)]

    def vip(d):  # an app's VIP label is a service too
        d["orchestrator"] = {"agents": ["h1"]}
        d["apps"] = {
            "site": {
                "image": "wirelab/node:busybox",
                "ports": ["auto"],
                "labels": {"VIP_0": "198.18.0.200:80"},
            }
        }
        return d

    assert problems(vip) == [("services", kept)]

    def subnet(d):
        d["networks"]["lan"] = {**d["networks"]["lan"], "subnet": "198.18.9.0/24"}
        return d

    assert ("networks.lan", "lan joins a locked node: it cannot be changed") in problems(subnet)
    stored = Lab.objects.get(id=lab).document
    assert not stored.get("services") and not stored.get("links")  # nothing of it was stored


def test_an_exercise_can_unlock_cables_and_services(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher, extra="  unlocked: [cables, services]", checks="")
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    api, lab = client_of(sam), attempt.lab_id
    doc = api.get(f"/api/labs/{lab}/export/?as=json").json()
    doc["links"] = [{"endpoints": ["h1:eth9", "client:eth9"]}]
    doc["services"] = {"vip": {"address": "198.18.0.200", "port": 80, "backends": ["client"]}}
    response = api.put(f"/api/labs/{lab}/document/", json.dumps(doc), content_type="application/json")
    assert response.status_code == 200, response.data


def test_after_closing_nothing_counts_as_on_time(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher, checks="")
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    _close(exercise, late="refused")
    api = client_of(sam)
    refused = api.post(f"/api/attempts/{attempt.id}/check/")
    assert refused.status_code == 409 and refused.data["detail"].startswith("this exercise closed at")
    attempt = Attempt.objects.get(id=attempt.id)  # as the lab host's rounds read it
    assert attempts.request_check(attempt, sam, automatic=True, enqueue=False) is None
    moved = api.patch(
        f"/api/nodes/{_node_id(attempt.lab_id, 'web')}/", {"ports": ["10000:80"]}, format="json"
    )
    assert moved.status_code == 400
    assert moved.data["problems"][0]["message"].endswith("your lab can no longer be changed")
    Lab.objects.filter(id=attempt.lab_id).update(status="stopped")
    deploy = api.post(f"/api/labs/{attempt.lab_id}/deploy/")
    assert deploy.status_code in (409, 429) and "closed" in str(deploy.data)
    assert (
        not Operation.objects.filter(lab_id=attempt.lab_id, kind="deploy")
        .exclude(status="succeeded")
        .exists()
    )


def test_an_exercise_taking_late_work_marks_it_late(course, teacher):  # noqa: F811
    exercise = _exercise(course, teacher, checks="")
    sam = joined("sam", course)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    grading.record(
        attempt.id, [{"index": 0, "title": "t", "passed": True, "message": "ok", "node": "", "weight": 1}]
    )
    assert Attempt.objects.get(id=attempt.id).late is False
    _close(exercise, late="marked")
    attempt = Attempt.objects.get(id=attempt.id)
    assert attempts.request_check(attempt, sam, enqueue=False) is not None
    grading.record(
        attempt.id, [{"index": 0, "title": "t", "passed": True, "message": "ok", "node": "", "weight": 1}]
    )
    grid = client_of(teacher).get(f"/api/courses/{course.id}/results/").data
    row = next(s for s in grid["students"] if s["username"] == "sam")
    assert row["attempts"][str(exercise.id)]["late"] is True


def _close(exercise: Exercise, late: str) -> None:
    document = dict(exercise.document)
    closes = (timezone.now() - timedelta(minutes=1)).isoformat()
    document["exercise"] = {**document["exercise"], "closes": closes, "late": late}
    Exercise.objects.filter(id=exercise.id).update(document=document)


def _node_id(lab_id: int, name: str) -> int:
    from labs.models import Node

    return Node.objects.get(lab_id=lab_id, name=name).id


def test_a_round_that_breaks_off_is_recorded_and_never_left_checking(course):  # noqa: F811
    from labs.hostside.jobs import carry_out
    from topology.spec import LabHostSpec

    class Breaking:
        def check(self, spec, checks, progress=None):
            raise ValueError("a malformed packet")

    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=2), sam, deploy=False)
    lab = Lab.objects.get(id=attempt.lab_id)
    Lab.objects.filter(id=lab.id).update(status="running")
    spec = LabHostSpec.empty(lab.tag, lab.labhost).to_dict()
    Operation.objects.create(lab=lab, kind="deploy", status="succeeded", labhost=lab.labhost, spec=spec)
    op = attempts.request_check(Attempt.objects.get(id=attempt.id), sam, enqueue=False)
    assert carry_out(op.id, labhost=Breaking()).status == "failed"
    attempt.refresh_from_db()
    assert attempt.checking is False and attempt.checked is not None
    assert [r["message"] for r in attempt.results] == ["not checked: the round broke off (ValueError)"] * 2
