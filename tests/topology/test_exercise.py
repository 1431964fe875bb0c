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
        "hints": [],
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
    assert public_result(None, wrong) == {**wrong, "title": "check 2", "message": "not passed", "hints": []}


def test_hints_show_one_after_another_by_failed_tries_or_time():
    routed = check(
        route={"node": "r1", "to": "198.18.3.0/24"},
        hints=[
            {"text": "look at r1's routes"},
            {"text": "r2 knows the way", "after": 3},
            {"text": "add 198.18.3.0/24 via 198.18.1.2", "after": 5, "minutes": 30},
        ],
    )
    assert routed.revealed(0, 0) == []
    assert routed.revealed(1, 0) == ["look at r1's routes"]
    assert routed.revealed(2, 100) == ["look at r1's routes"]  # the second waits for its third try
    assert routed.revealed(3, 0) == ["look at r1's routes", "r2 knows the way"]
    assert len(routed.revealed(4, 30)) == 3 and len(routed.revealed(5, 0)) == 3
    timed = check(route={"node": "r1", "to": "default"}, hints=[{"text": "read the task", "minutes": 10}])
    assert timed.revealed(50, 9) == [] and timed.revealed(0, 10) == ["read the task"]
    failed = {"index": 0, "passed": False, "message": "r1 has no route to 198.18.3.0/24"}
    assert public_result(routed, failed, ["look at r1's routes"])["hints"] == ["look at r1's routes"]
    with pytest.raises(ValidationError, match="at most 5"):
        check(route={"node": "r1", "to": "default"}, hints=[{"text": "x"}] * 6)


def test_the_lab_host_is_given_the_reference_ways_and_traces_a_solution_s_probes():
    rules = ExerciseDoc.model_validate(
        {
            "checks": [
                {"reach": {"from": "client", "to": "198.18.0.11:10000"}},
                {"reach": {"from": "client", "to": "web", "expect": "failure"}},
                {"published": {"host": "h1", "port": 10000, "from": "client"}},
                {"route": {"node": "h1", "to": "default"}},
            ]
        }
    )
    way = [["client", "eth0", "out"], ["h1", "eth0", "in"]]
    student = plan_checks(rules, {"0": way})
    assert student[0]["reference"] == way and not any("trace_passed" in c for c in student)
    assert [c.get("trace_passed", False) for c in plan_checks(rules, solution=True)] == [
        True,
        False,
        True,
        False,
    ]
    shown = public_result(rules.checks[0], {"index": 0, "passed": True, "message": "ok", "journey": way})
    assert "journey" not in shown
