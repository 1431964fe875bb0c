"""An exercise's checks as data: what the lab host is given, and what a student may read of a
result."""

import pytest
from pydantic import ValidationError

from topology.exercise import CheckDoc, ExerciseDoc, plan_checks, public_result


def check(**fields) -> CheckDoc:
    return CheckDoc.model_validate(fields)


def test_a_check_may_wait_within_a_round():
    rules = ExerciseDoc.model_validate(
        {
            "checks": [
                {"route": {"node": "r1", "to": "198.18.3.0/24"}, "wait": 40},
                {"link": {"node": "r1", "interface": "eth0"}},
            ]
        }
    )
    assert [c["wait"] for c in plan_checks(rules)] == [40, 0]
    with pytest.raises(ValidationError, match="less than or equal to 50"):
        check(route={"node": "r1", "to": "default"}, wait=90)


def test_a_student_reads_a_failure_without_what_the_check_wants():
    command = check(command={"node": "client", "run": "cat /etc/answer", "output": "^KEY-[0-9]+$"})
    failed = {
        "index": 0,
        "title": command.title(),
        "passed": False,
        "message": "the output does not match /^KEY-[0-9]+$/",
    }
    assert command.title() == "on client: cat /etc/answer"  # the teacher's
    assert public_result(command, failed) == {
        **failed,
        "title": "a check on client",
        "message": "the check on client did not pass yet",
    }
    passed = {**failed, "passed": True, "message": "exit code 0, output matches /^KEY-[0-9]+$/"}
    assert public_result(command, passed)["message"] == "passed"

    page = check(reach={"from": "client", "to": "h1:80", "contains": "secret words"}, hint="publish port 80")
    refused = {
        "index": 1,
        "passed": False,
        "message": "client cannot reach 198.18.0.11:80: connection refused",
    }
    assert public_result(page, refused)["message"] == (
        "client cannot reach 198.18.0.11:80: connection refused. publish port 80"
    )
    wrong = {**refused, "message": "HTTP 200, but the page does not contain 'secret words'"}
    assert public_result(page, wrong)["message"] == "publish port 80"
    assert public_result(None, wrong) == {**wrong, "title": "check 2", "message": "not passed"}
