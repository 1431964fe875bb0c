"""A class in real browsers: the teacher makes a course from the demo, a student joins with the
code, starts exercise 2, sees its checks fail, fixes the lab in the editor, redeploys and sees
them pass live, while the teacher's dashboard turns green without a reload."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from labs.classroom.roles import make_teacher

from .conftest import CHROMIUM, CHROMIUM_ARGS, screenshot
from .test_editor import saved, tap

pytestmark = pytest.mark.kernel
LONG = 180_000  # ms: a deploy and a round of checks on a busy two-core machine


def signed_in(browser, base: str, username: str, password: str):
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def watch_errors(page, errors: list) -> None:
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))


def test_a_student_fixes_exercise_two_and_the_teacher_sees_it_turn_green(server, django_user_model):
    make_teacher(django_user_model.objects.create_user("tina", password="pw-tina-12345"))
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        teacher = signed_in(browser, server, "tina", "pw-tina-12345")
        watch_errors(teacher, errors)
        teacher.goto(f"{server}/courses/")
        teacher.fill("input[name=name]", "Networks 101")
        teacher.click("#create-course")
        # the grid drawn by the page's script: its forms are wired up (a click before would reload)
        teacher.wait_for_selector("#grid table.results, #grid p.card")
        code = teacher.inner_text("#join-code")
        # ahead of the class: exercise two's two hosts, for two students, started on the lab host
        teacher.click("summary:has-text('Prepare for a class')")
        teacher.select_option(
            "#prepare select[name=exercise]", label="2. Bridge mode: publish a port with NAT"
        )
        teacher.fill("#prepare input[name=students]", "2")
        teacher.click("#prepare button[type=submit]")
        teacher.wait_for_selector("#message:has-text('starting 4 machine(s) for 2 student(s)')")

        student = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
        watch_errors(student, errors)
        student.goto(f"{server}/join/?code={code}")
        student.fill("#id_username", "sam")
        student.fill("#id_password", "a-long-pass-123")
        student.click("#join")
        student.wait_for_selector("text=2. Bridge mode: publish a port with NAT")
        student.locator(".exercise-card", has_text="2. Bridge mode").locator("button[type=submit]").click()
        student.wait_for_selector("#exercise .check")
        assert student.inner_text("#exercise h2") == "2. Bridge mode: publish a port with NAT"

        # deployed on start and checked once it runs: the published port is missing
        student.wait_for_selector("#exercise .check.fail", timeout=LONG)
        assert "connection refused" in student.inner_text("#exercise .check.fail .why")
        teacher.wait_for_selector("tr[data-student=sam] td.cell.fail", timeout=LONG)
        screenshot(student, "exercise-failing")

        tap(student, "n:web")
        student.fill("#panel [data-field=ports]", "10000:80")
        student.press("#panel [data-field=ports]", "Tab")
        saved(student)
        student.click("#deploy")
        student.wait_for_function(  # the round stored, not only each result as it came
            "document.querySelector('#exercise .score').textContent.startsWith('100% complete')", timeout=LONG
        )
        assert student.locator("#exercise .check.pass").count() == 2
        screenshot(student, "exercise-solved")
        teacher.wait_for_function(
            "document.querySelectorAll('tr[data-student=sam] td.cell.pass').length === 2", timeout=LONG
        )
        assert teacher.locator("tr[data-student=sam] .score").first.inner_text().strip() == "100%"
        screenshot(teacher, "teacher-dashboard")
        browser.close()
    assert errors == [], errors
