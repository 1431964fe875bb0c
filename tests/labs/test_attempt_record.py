"""The record of an attempt: edits (with the lab as it then was, a burst of them one moment),
deploys and stops, rounds of checks, commands, traces and consoles, with times; the teacher
reads it and the lab at any moment, the student sees what changed since their checks last
passed. No lab host needed."""

from __future__ import annotations

import pytest

from labs.access import console_seen
from labs.classroom import attempts, grading
from labs.classroom.models import AttemptEvent
from labs.models import Lab, Operation
from labs.store.documents import save_document
from tests.labs.test_classroom import client_of, course, joined, page_client  # noqa: F401
from topology.document import parse_document

pytestmark = pytest.mark.django_db(transaction=True)  # the record is written once a change commits


def publish(lab: Lab, ports: list[str], student) -> None:
    data = Lab.objects.get(id=lab.id).document
    data["nodes"]["web"]["ports"] = ports
    save_document(parse_document(data), student, Lab.objects.get(id=lab.id))


def rounds(attempt, passed: list[bool]) -> None:
    grading.record(attempt.id, [
        {"index": i, "title": "t", "passed": p, "message": "", "node": "client", "weight": 1} for i, p in enumerate(passed)
    ])  # fmt: skip


def test_the_record_keeps_every_moment_and_the_lab_as_it_was(course, teacher):  # noqa: F811
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=2), sam, deploy=False)
    lab = attempt.lab
    publish(lab, ["10001:80"], sam)
    publish(lab, ["10002:80"], sam)  # within moments of the first: one edit, the last document
    rounds(attempt, [False, True])
    AttemptEvent.objects.filter(attempt=attempt).update(time="2026-01-01T00:00:00Z")  # long ago
    publish(lab, ["10000:80"], sam)
    rounds(attempt, [True, True])
    op = Operation.objects.create(lab=lab, kind="exec", labhost="local", requested_by=teacher,
                                  params={"node": "h1", "command": ["sh", "-c", "ip route"]})  # fmt: skip
    op.status = "succeeded"
    op.save()
    console_seen(lab.id, "h1", True)
    console_seen(lab.id, "h1", False)

    record = client_of(teacher).get(f"/api/attempts/{attempt.id}/timeline/").data
    assert [(e["kind"], e["summary"]) for e in record["events"]] == [
        ("edit", "changed web (ports)"),
        ("check", "1 of 2 checks pass"),
        ("edit", "changed web (ports)"),
        ("check", "2 of 2 checks pass"),
        ("command", "on h1: ip route by tina"),
        ("console", "console on h1 opened"),
        ("console", "console on h1 closed"),
    ]
    first_edit = record["events"][0]["id"]
    then = client_of(teacher).get(f"/api/attempts/{attempt.id}/timeline/?at={record['events'][1]['id']}").data
    assert then["document"]["nodes"]["web"]["ports"] == ["10002:80"]  # the lab as it was at that round
    assert client_of(sam).get(f"/api/attempts/{attempt.id}/timeline/?at={first_edit}").status_code == 200
    assert client_of(joined("kim", course)).get(f"/api/attempts/{attempt.id}/timeline/").status_code == 404
    assert client_of(teacher).get(f"/api/attempts/{attempt.id}/timeline/?at=999999").status_code == 400

    # since every check last passed, sam publishes another port: their exercise box says so
    publish(lab, ["10000:80", "10003:81"], sam)
    rounds(attempt, [True, False])
    shown = client_of(sam).get(f"/api/attempts/{attempt.id}/").data
    assert shown["changed_since_passed"] == ["changed web (ports)"]
    page = page_client(teacher).get(f"/courses/{course.id}/attempts/{attempt.id}/timeline/")
    assert page.status_code == 200 and b'id="timeline"' in page.content
