"""An exercise that teaches, in real browsers: the teacher tries exercise 2's solution and sees
every check pass; a student who publishes the wrong port is told where the probe stopped and
where the solution's goes on, and after that failed try gets the exercise's first hint."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from labs.classroom.roles import make_teacher

from .conftest import CHROMIUM, CHROMIUM_ARGS, screenshot
from .test_classroom import LONG, joined_from_the_link, signed_in, stored_document, watch_errors
from .test_editor import saved, tap

pytestmark = pytest.mark.kernel
EXERCISE = "2. Bridge mode"


def test_a_wrong_published_port_is_told_where_it_parts_from_the_solution(server, django_user_model):
    make_teacher(django_user_model.objects.create_user("tina", password="pw-tina-12345"))
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        teacher = signed_in(browser, server, "tina", "pw-tina-12345")
        watch_errors(teacher, errors)
        teacher.goto(f"{server}/courses/")
        teacher.fill("input[name=name]", "Networks 101")
        teacher.click("#create-course")
        teacher.wait_for_selector("#grid table.results, #grid p.card")
        code = teacher.inner_text("#join-code")
        teacher.click("details.exercises > summary")
        teacher.locator(".exercise-card", has_text=EXERCISE).locator(
            "button:text-is('Try the solution')"
        ).click()
        teacher.wait_for_selector("#exercise .check")
        teacher.wait_for_function(
            "document.querySelector('#exercise .score').textContent.startsWith('100% complete')", timeout=LONG
        )
        assert teacher.locator("#exercise .check.pass").count() == 2
        assert "runs the exercise's solution" in teacher.inner_text("#exercise .solution-note")
        assert teacher.evaluate("window.wirelab.cy.nodes('.locked').length") == 0  # the teacher's own
        screenshot(teacher, "solution-tried")

        student = joined_from_the_link(browser, server, code, "sam", errors)
        student.locator(".exercise-card", has_text=EXERCISE).locator("button[type=submit]").click()
        student.wait_for_selector("#exercise .check.fail", timeout=LONG)
        lab_id = int(student.get_attribute("#editor", "data-lab-id"))
        assert student.locator("#exercise .hints").count() == 0  # the start's round is no try of sam's

        tap(student, "n:web")
        student.fill("#panel [data-field=ports]", "10001:80")  # the wrong way round
        student.press("#panel [data-field=ports]", "Tab")
        saved(student)
        assert stored_document(lab_id)["nodes"]["web"]["ports"] == ["10001:80"]
        student.click("#deploy")
        first = student.locator("#exercise .check.fail", has_text="the client reaches web through h1:10000")
        first.locator(".hints li").wait_for(timeout=LONG)
        said = first.locator(".why").inner_text()
        assert "the probe stopped at h1: h1 refused it: nothing takes tcp 10000" in said, said
        assert "the reference leaves h1 through docker0" in said, said
        assert first.locator(".hints li").all_inner_texts() == [
            "Hint -p 10000:80 maps h1's port 10000 to web's port 80: the host's port comes first."
        ]
        screenshot(student, "journey-hint")
        browser.close()
    assert errors == []
