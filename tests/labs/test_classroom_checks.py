"""The demo course for real: each exercise's checks fail on its template and pass once the
student's lab holds the solution, checked on the lab host after each deploy."""

from __future__ import annotations

import pytest

from labs import lifecycle
from labs.classroom import attempts
from labs.classroom.courses import DEMO_COURSE
from labs.classroom.models import Attempt
from labs.hostside.jobs import carry_out
from labs.models import Operation

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]
SOLUTIONS = DEMO_COURSE / "solutions"


def deployed(op: Operation, attempt: Attempt) -> dict:
    """Carry out the deploy, then the round of checks it queued; the attempt as it ends."""
    assert carry_out(op.id).status == "succeeded", Operation.objects.get(id=op.id).log
    check = Operation.objects.filter(lab=attempt.lab, kind="check").order_by("-id").first()
    assert check is not None and check.status == "queued"  # asked for by the deploy's end
    assert carry_out(check.id).status == "succeeded", check.error
    attempt.refresh_from_db()
    assert attempt.checking is False
    return {r["title"]: (r["passed"], r["message"]) for r in attempt.results}


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5, 6])
def test_a_demo_exercise_s_solution_passes_and_its_start_fails(
    monitor, demo_course, student, labs_made, number
):
    """The teacher tries the solution: every check passes, and the ways its probes take are
    kept. A student's start fails at least one check; a failed journey says where it parts
    from the solution's."""
    exercise = demo_course.exercises.get(order=number)
    mine, op = attempts.try_solution(exercise, demo_course.created_by, enqueue=False)
    labs_made.append(mine.lab)
    solved = deployed(op, mine)
    assert all(passed for passed, _ in solved.values()), solved
    assert mine.score == 1 and mine.first_passed is not None

    attempt, op = attempts.start(exercise, student, enqueue=False)
    labs_made.append(attempt.lab)
    before = deployed(op, attempt)
    assert not all(passed for passed, _ in before.values()), before
    assert attempt.score < 1
    if number == 2:  # nothing published yet: the probe stops at h1, where the solution's goes on
        said = before["the client reaches web through h1:10000"][1]
        assert "traced, the probe stopped at h1: h1 refused it: nothing takes tcp 10000" in said, said
        assert "; the reference leaves h1 through " in said, said


def test_the_messages_say_what_is_wrong(demo_course, student, labs_made):
    attempt, op = attempts.start(demo_course.exercises.get(order=1), student, enqueue=False)
    labs_made.append(attempt.lab)
    results = deployed(op, attempt)
    assert results["web-a answers on h1:80"] == (
        True,
        "client reaches 198.18.0.11:80: HTTP 200, the page contains 'web-a'",
    )
    assert results["web-b answers on h1:8080"] == (
        False, "client cannot reach 198.18.0.11:8080: connection refused; "
               "traced, the probe stopped at h1: h1 refused it: nothing takes tcp 8080")  # fmt: skip


def test_a_round_on_a_lab_taken_down_meanwhile_fails_every_check_with_the_reason(
    demo_course, student, labs_made
):
    attempt, op = attempts.start(demo_course.exercises.get(order=3), student, enqueue=False)
    labs_made.append(attempt.lab)
    deployed(op, attempt)
    check = attempts.request_check(attempt, student, enqueue=False)
    assert carry_out(lifecycle.request_destroy(attempt.lab, student, enqueue=False).id).status == "succeeded"
    assert carry_out(check.id).status == "failed"
    attempt.refresh_from_db()
    assert attempt.checking is False and attempt.score == 0
    assert {r["message"] for r in attempt.results} == {"not checked: lab dynamic-port-sam is stopped"}


def test_a_routing_exercise_whose_checks_wait_grades_green_right_after_its_deploy(
    demo_course, student, labs_made
):
    """The round a deploy asks for runs while OSPF still converges: checks that `wait` keep
    trying until the routes are there, so the grade does not depend on the timing."""
    from labs.classroom.exercise_files import read_exercise
    from labs.classroom.exercises import add_exercise

    checks = """
exercise:
  title: OSPF across the triangle
  checks:
    - route: {node: r1, to: 198.18.3.0/24}
      wait: 40
    - reach: {from: h1, to: 198.18.3.10}
      wait: 40
"""
    text = (DEMO_COURSE.parent / "ospf-triangle.yaml").read_text() + checks
    exercise = add_exercise(demo_course, read_exercise(text))
    attempt, op = attempts.start(exercise, student, enqueue=False)
    labs_made.append(attempt.lab)
    results = deployed(op, attempt)
    assert all(passed for passed, _ in results.values()), results
    assert results["r1 has a route to 198.18.3.0/24"] == (True, "r1 has a route to 198.18.3.0/24")


def test_two_students_of_a_varied_exercise_get_their_own_subnets_and_pass_with_their_own_answers(
    demo_course, student, labs_made
):
    from django.contrib.auth import get_user_model

    from labs.classroom.courses import join
    from labs.classroom.draws import values_of
    from labs.classroom.exercise_files import read_exercise
    from labs.classroom.exercises import add_exercise, solution_of
    from labs.models import Lab
    from labs.store.documents import save_document
    from tests.labs.test_exercise_variants import VARIED

    exercise = add_exercise(demo_course, read_exercise(VARIED))
    kim = get_user_model().objects.create_user("kim")
    join(demo_course, kim)
    subnets = {}
    for user in (student, kim):
        attempt, op = attempts.start(exercise, user, enqueue=False)
        labs_made.append(attempt.lab)
        before = deployed(op, attempt)
        assert not any(passed for passed, _ in before.values()), before
        lab = Lab.objects.get(id=attempt.lab_id)
        save_document(solution_of(exercise, user).model_copy(update={"name": lab.name}), user, lab)
        after = deployed(lifecycle.request_deploy(lab, user, enqueue=False), attempt)
        port = values_of(exercise, user)["port"]
        assert after == {
            "the client reaches web through h1": (
                True,
                f"client reaches {lab.document['nodes']['h1']['interfaces']['eth0']['address'].split('/')[0]}:{port}: HTTP 200, the page contains 'published'",
            )
        }
        subnets[user.username] = lab.document["networks"]["lan"]["subnet"]
    assert subnets["sam"] != subnets["kim"], subnets


def test_a_troubleshooting_exercise_breaks_each_student_s_lab_its_own_way_and_grades_both(
    demo_course, student, labs_made
):
    """Two students, two different faults, the same checks: each fails where their fault is.
    The robustness check pulls the client's cable and puts it back, so the check after it
    reaches r1 again."""
    from django.contrib.auth import get_user_model

    from labs.classroom.courses import join
    from labs.classroom.exercise_files import read_exercise
    from labs.classroom.exercises import add_exercise, faults_of
    from tests.labs.test_exercise_faults import TROUBLESHOOTING

    exercise = add_exercise(demo_course, read_exercise(TROUBLESHOOTING))
    kim = get_user_model().objects.create_user("kim")
    join(demo_course, kim)
    seen = {}
    for user in (student, kim):
        attempt, op = attempts.start(exercise, user, enqueue=False)
        labs_made.append(attempt.lab)
        results = deployed(op, attempt)
        (fault,) = faults_of(exercise, user)
        reached, said = results["the client reaches web through h1:10000"]
        assert not reached, said
        pulled, why = results["without the client's cable nothing gets through"]
        assert pulled and why.endswith("as it should not (with client:eth0 pulled)"), why
        assert results["the client reaches r1"][0], results  # the cable was put back
        seen[fault] = said
    assert len(seen) == 2, seen  # two faults, each failing the first check its own way
    assert len(set(seen.values())) == 2, seen
