"""A class in real browsers: the teacher makes a course from the demo and prepares it, a student
joins with the code, starts exercise 1, sees web-b fail, fixes its command and port in the panel
as the instructions say, redeploys and sees the checks pass live while the teacher's dashboard
turns green; the teacher watches the lab read-only; the student captures a cable's traffic to a
file; the teacher's message reaches both students wherever they are and waits until read; a
locked node cannot be changed, and the teacher stopping the lab is told to the student's open
editor."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from labs.classroom.roles import make_teacher
from labs.models import Lab

from .conftest import CHROMIUM, CHROMIUM_ARGS, outside_the_browser_loop, screenshot
from .test_editor import saved, tap

pytestmark = pytest.mark.kernel
PCAP_MAGIC = {b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"}
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


def joined_from_the_link(browser, base: str, code: str, username: str, errors: list, typed: bool = False):
    """A new student's page: signed up through the course's join link (or, `typed`, from the front
    page's Join button with the code typed in), on the course's page."""
    page = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    watch_errors(page, errors)
    if typed:
        page.goto(f"{base}/")
        page.click("text=Join a course with a code")
        page.fill("#id_code", code.lower())
    else:
        page.goto(f"{base}/join/?code={code}")
    page.fill("#id_username", username)
    page.fill("#id_password", f"a-long-pass-for-{username}")
    page.click("#join")
    page.wait_for_selector("text=1. Host mode: two servers, one port")
    return page


def stored_document(lab_id: int) -> dict:
    return outside_the_browser_loop(lambda: Lab.objects.get(id=lab_id).document)


def test_a_class_walks_exercise_one_from_the_panel_and_the_teacher_stops_a_lab(server, django_user_model):
    make_teacher(django_user_model.objects.create_user("tina", password="pw-tina-12345"))
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        teacher = signed_in(browser, server, "tina", "pw-tina-12345")
        watch_errors(teacher, errors)
        teacher.on("dialog", lambda dialog: dialog.accept())  # "Take sam's lab down?"
        teacher.goto(f"{server}/courses/")
        teacher.fill("input[name=name]", "Networks 101")
        teacher.click("#create-course")
        # the grid drawn by the page's script: its forms are wired up (a click before would reload)
        teacher.wait_for_selector("#grid table.results, #grid p.card")
        code = teacher.inner_text("#join-code")
        assert teacher.get_attribute("#join-url", "href") == f"{server}/join/?code={code}"
        # the exercises as students will read them, before any student starts one
        teacher.click("details.exercises > summary")
        card = teacher.locator(".exercise-card", has_text="1. Host mode")
        card.locator("summary:text-is('Instructions')").click()
        assert "In host mode a container uses its Docker host" in card.inner_text()
        assert card.locator("button:text-is('Try it yourself')").count() == 1
        # ahead of the class: exercise one's two hosts, for two students, started on the lab host
        teacher.click("summary:has-text('Prepare for a class')")
        teacher.select_option("#prepare select[name=exercise]", label="1. Host mode: two servers, one port")
        teacher.fill("#prepare input[name=students]", "2")
        teacher.click("#prepare button[type=submit]")
        teacher.wait_for_selector("#prepare-state:has-text('machine(s)')")
        teacher.wait_for_selector(
            "#prepare-state:has-text('Ready for 2 student(s)')", timeout=LONG
        )  # said when so

        student = joined_from_the_link(browser, server, code, "sam", errors)
        student.locator(".exercise-card", has_text="1. Host mode").locator("button[type=submit]").click()
        student.wait_for_selector("#exercise .check")
        lab_id = int(student.get_attribute("#editor", "data-lab-id"))
        other = joined_from_the_link(browser, server, code, "kim", errors, typed=True)  # a second student
        teacher.wait_for_selector("tr[data-student=kim]")  # on the dashboard before starting anything
        # the palette offers only what the exercise lets a student add; locked nodes are marked
        student.wait_for_selector("#palette .item.container")
        assert student.locator("#palette .item.router").count() == 0
        locked = student.evaluate("window.wirelab.cy.nodes('.locked').map(n => n.id()).sort()")
        assert locked == ["n:client", "n:h1", "n:web-a"]

        # deployed on start and checked once it runs: web-b cannot take port 80 too
        student.wait_for_selector("#exercise .check.fail", timeout=LONG)
        teacher.wait_for_selector("tr[data-student=sam] td.cell.fail", timeout=LONG)
        screenshot(student, "exercise-one-failing")

        # the fix the instructions ask for, typed into the panel: the command keeps its words
        tap(student, "n:web-b")
        command = student.locator("#panel [data-field=command]")
        shown = command.input_value()
        assert shown == "sh -c 'mkdir -p /www && echo web-b > /www/index.html && exec httpd -f -p 80 -h /www'"
        command.fill(shown.replace("-p 80 ", "-p 8080 "))
        command.press("Tab")
        saved(student)
        student.fill("#panel [data-field=ports]", "8080")
        student.press("#panel [data-field=ports]", "Tab")
        saved(student)
        web_b = stored_document(lab_id)["nodes"]["web-b"]
        assert web_b["command"] == [
            "sh", "-c", "mkdir -p /www && echo web-b > /www/index.html && exec httpd -f -p 8080 -h /www"
        ]  # fmt: skip
        assert web_b["ports"] == [8080]  # a number is that port, not a dynamic one
        assert student.locator("#panel .handed-out").count() == 0
        label = student.evaluate("window.wirelab.cy.getElementById('n:h1').data('label')")
        assert "h1:8080 ← web-b (host mode)" in label and "PORT0" not in label, label
        student.click("#deploy")
        student.wait_for_function(  # the round stored, not only each result as it came
            "document.querySelector('#exercise .score').textContent.startsWith('100% complete')", timeout=LONG
        )
        assert student.locator("#exercise .check.pass").count() == 2
        screenshot(student, "exercise-one-solved")
        teacher.wait_for_function(
            "document.querySelectorAll('tr[data-student=sam] td.cell.pass').length === 2", timeout=LONG
        )
        assert teacher.locator("tr[data-student=sam] .score").first.inner_text().strip() == "100%"
        screenshot(teacher, "teacher-dashboard")

        # the teacher watches sam's lab as sam sees it: the same drawing, the checks with their
        # results, live; nothing there changes it
        with teacher.context.expect_page() as opened:
            teacher.locator("tr[data-student=sam] button", has_text="View").first.click()
        watch = opened.value
        watch_errors(watch, errors)
        watch.wait_for_selector("#exercise .score:has-text('100% complete')", timeout=LONG)
        watch.wait_for_selector("#live.ok")
        assert watch.locator("#exercise .check.pass").count() == 2
        assert watch.locator("#deploy, #palette, #share-open").count() == 0
        assert watch.locator("#exercise .buttons").is_hidden()
        drawn = (
            "window.wirelab.cy.nodes().filter(n => !n.isParent())"
            ".map(n => `${n.id()}@${Math.round(n.position().x)},${Math.round(n.position().y)}`).sort()"
        )
        assert watch.evaluate(drawn) == student.evaluate(drawn)
        tap(watch, "n:web-b")
        watch.wait_for_selector("#panel [data-field=command]")
        assert watch.locator("#panel [data-field=command]").is_disabled()
        assert watch.locator("#panel .buttons").is_hidden()  # no console, restart, NAT table
        screenshot(watch, "teacher-watching-a-student")

        # a capture on the client's cable while a round of checks crosses it: the line that says
        # the file is ready links it
        tap(student, "if:client:eth0")
        student.click("#panel button[data-action=capture]")
        student.wait_for_selector("#message:has-text('capturing on client:eth0')")
        student.click("#exercise button:text-is('Check')")
        student.wait_for_selector("#message a.pcap", timeout=LONG)
        assert "capture on client:eth0 ready" in student.inner_text("#message")
        screenshot(student, "capture-ready")
        with student.expect_download() as download:
            student.click("#message a.pcap")
        pcap = Path(download.value.path()).read_bytes()
        assert pcap[:4] in PCAP_MAGIC and len(pcap) > 24, pcap[:32]  # frames, not only the header
        student.evaluate("window.wirelab.select(null)")  # once its message has gone, the file stays at hand
        tap(student, "if:client:eth0")
        student.wait_for_selector("#panel ul.captures a.pcap:text-is('client:eth0.pcap')")

        # a message from the teacher: on the student's open lab page at once, and waiting for the
        # other student, who was away on another page, until read; then it can be read again
        other.goto(f"{server}/")
        teacher.fill("#broadcast input[name=message]", "Five minutes left: save your work")
        teacher.click("#broadcast button[type=submit]")
        teacher.wait_for_selector("#message:has-text('Five minutes left')")
        student.wait_for_selector("#inbox li.unread:has-text('tina to Networks 101')")
        assert "Five minutes left: save your work" in student.inner_text("#inbox")
        other.wait_for_selector("#inbox li.unread:has-text('Five minutes left')")  # live, on My labs
        other.goto(f"{server}/courses/")  # still there on the next page
        other.wait_for_selector("#inbox li.unread:has-text('Five minutes left')")
        screenshot(other, "message-waiting")
        other.click("#inbox button:text-is('Mark read')")
        other.wait_for_selector("#inbox", state="hidden")
        other.reload()
        other.wait_for_selector("header .inbox-link:text-is('Messages')")
        assert other.locator("#inbox").is_hidden()
        other.click("header .inbox-link")
        other.wait_for_selector("#inbox li.read:has-text('Five minutes left')")
        screenshot(student, "message-on-the-lab-page")
        student.click("#inbox button:text-is('Mark read')")
        student.wait_for_selector("#inbox", state="hidden")
        student.wait_for_function(  # the diagram has taken back the band's room
            "window.wirelab.cy.height() === document.querySelector('#canvas').clientHeight"
        )

        # a locked node: its fields are read-only, and deleting it is refused on the spot with
        # the exercise's sentence while it stays drawn
        tap(student, "n:h1")
        assert student.locator("#panel .locked-note").count() == 1
        assert student.locator("#panel [data-field=name]").is_disabled()
        student.evaluate("document.activeElement?.blur()")
        student.keyboard.press("Delete")
        student.wait_for_selector("#message.error:has-text('h1 is locked by the exercise')")
        assert student.evaluate("window.wirelab.cy.getElementById('n:h1').nonempty()")
        # a change that only the server's check catches (the editor's own rules switched off):
        # its sentence is shown on the node, and nothing is stored until it is undone
        student.evaluate(
            "() => { const w = window.wirelab; w.rules = new w.rules.constructor(); "
            "w.model.edit(d => { d.nodes.h1.image = 'wirelab/node:debian'; }); w.changed(); }"
        )
        student.wait_for_selector(
            "#panel .problems:has-text('h1 is locked by the exercise: it cannot be changed')"
        )
        assert student.inner_text("#save-state") == "not saved"
        assert student.locator("#toolbar").bounding_box()["height"] < 48  # still one row
        assert stored_document(lab_id)["nodes"]["h1"].get("image") is None
        screenshot(student, "exercise-one-refused")
        student.evaluate("document.activeElement?.blur()")
        student.keyboard.press("Control+z")
        saved(student)

        # Destroy asks first; dismissed, nothing happens
        asked = []
        student.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
        student.click("#destroy")
        student.wait_for_timeout(500)
        assert asked and asked[0].startswith("Destroy host-mode (sam)?"), asked
        assert student.inner_text("#status") == "running"

        # the teacher takes the lab down: the student's open editor says so, and who did it
        teacher.locator("tr[data-student=sam] button", has_text="Stop").first.click()
        student.wait_for_selector("#message:has-text('tina')", timeout=15_000)
        student.wait_for_function("document.querySelector('#status').textContent === 'stopped'", timeout=LONG)
        student.wait_for_selector("#message:has-text('this lab was stopped by tina')")
        assert student.evaluate("window.wirelab.cy.nodes('.running').length") == 0
        watch.wait_for_function("document.querySelector('#status').textContent === 'stopped'", timeout=LONG)
        screenshot(student, "exercise-one-stopped-by-the-teacher")
        browser.close()
    assert errors == [], errors
