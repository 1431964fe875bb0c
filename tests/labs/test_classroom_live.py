"""The classroom's sockets with the real Redis channel layer: the teacher's dashboard hears
every attempt change of the course (and nobody else may listen), the student's lab page
hears its own check results, and a teacher's message reaches the dashboard and every page the
student has open."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from labs.classroom import attempts, grading, messages
from labs.classroom.courses import create_course, join
from labs.classroom.roles import make_teacher

from .live_helpers import connect, refused

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def a_class():
    User = get_user_model()
    teacher = User.objects.create_user("tina")
    make_teacher(teacher)
    course = create_course("Live", teacher, from_demo=True)
    sam = User.objects.create_user("sam")
    join(course, sam)
    attempt, _ = attempts.start(course.exercises.get(order=1), sam, deploy=False)
    return teacher, sam, course, attempt


async def test_the_dashboard_hears_attempts_and_only_teachers_may_listen():
    teacher, sam, course, attempt = await sync_to_async(a_class)()
    assert (await refused(f"/ws/courses/{course.id}/", sam)) == (False, 4403)

    dashboard = await connect(f"/ws/courses/{course.id}/", teacher)
    assert (await dashboard.connect())[0]
    assert (await dashboard.receive_json_from(timeout=10)) == {"type": "hello"}
    lab_page = await connect(f"/ws/labs/{attempt.lab_id}/", sam)
    assert (await lab_page.connect())[0]
    assert (await lab_page.receive_json_from(timeout=10))["type"] == "snapshot"

    results = [{"index": 0, "title": "web-a answers on h1:80", "passed": True, "message": "ok",
                "node": "client", "weight": 1}]  # fmt: skip
    await sync_to_async(grading.each_result)(attempt.lab.tag, attempt, results[0])
    assert (await lab_page.receive_json_from(timeout=10)) == {
        "type": "check.result", "attempt": attempt.id, "result": {**results[0], "hints": []}}  # fmt: skip
    await sync_to_async(grading.record)(attempt.id, results)
    heard = await dashboard.receive_json_from(timeout=10)
    assert heard["type"] == "attempt" and heard["attempt"]["student"] == "sam"
    assert heard["attempt"]["score"] == 1 and heard["attempt"]["results"] == results
    seen = await lab_page.receive_json_from(timeout=10)
    assert seen["type"] == "checks" and seen["id"] == attempt.id and seen["score"] == 1

    inbox = await connect("/ws/inbox/", sam)  # any page sam has open
    assert (await inbox.connect())[0]
    await sync_to_async(messages.send)(course, teacher, "five minutes left")  # autocommit: sent at once
    assert (await dashboard.receive_json_from(timeout=10))["message"] == "five minutes left"
    heard = await inbox.receive_json_from(timeout=10)
    assert (heard["type"], heard["from"], heard["course_name"], heard["message"]) == (
        "message", "tina", "Live", "five minutes left")  # fmt: skip
    for socket in (dashboard, lab_page, inbox):
        await socket.disconnect()
    assert (await refused("/ws/inbox/", None)) == (False, 4403)


async def test_a_teacher_watches_a_students_console_read_only(labs_made):
    from django.conf import settings

    from labs.hostside.consoles import ConsoleRelay
    from labs.hostside.jobs import carry_out
    from tests.labs.live_helpers import read_until as _read_until
    from worker.labhost import Engine

    def deployed():
        teacher, sam, _, attempt = a_class()
        _, op = attempts.start(attempt.exercise, sam, enqueue=False)
        labs_made.append(attempt.lab)
        assert carry_out(op.id).status == "succeeded"
        outsider = get_user_model().objects.create_user("otto")
        return teacher, sam, outsider, attempt

    teacher, sam, outsider, attempt = await sync_to_async(deployed)()
    relay = ConsoleRelay(settings.WIRELAB_LABHOST, Engine(), idle_seconds=60)
    relay.start()
    try:
        watch_path = f"/ws/attempts/{attempt.id}/nodes/client/watch/"
        assert (await refused(watch_path, sam)) == (False, 4403)  # students may not
        assert (await refused(watch_path, outsider)) == (False, 4403)
        watcher = await connect(watch_path, teacher)
        assert (await watcher.connect())[0]
        console = await connect(f"/ws/labs/{attempt.lab_id}/nodes/client/console/", sam)
        assert (await console.connect())[0]
        assert "a console opened" in (await watcher.receive_output(timeout=30))["text"]
        await watcher.send_to(bytes_data=b"echo from-the-teach''er\n")  # goes nowhere
        await console.send_to(bytes_data=b"echo wat''ched-$(hostname)\n")
        await _read_until(watcher, b"watched-client")
        seen = await _read_until(console, b"watched-client")
        assert b"from-the-teacher" not in seen
        await console.disconnect()
        await watcher.disconnect()
    finally:
        relay.stop()
