"""Courses, exercises and attempts over the API, without a lab host: who may see and do
what, the exercise file, the rules on a student's edits, results for the teacher."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient

from labs import lifecycle
from labs.classroom import attempts, grading
from labs.classroom.courses import DEMO_COURSE
from labs.classroom.models import Attempt, Course, Membership
from labs.classroom.roles import make_teacher
from labs.models import Lab, Operation
from tests.labs.live_helpers import connect, refused

pytestmark = pytest.mark.django_db
EXERCISE = (DEMO_COURSE / "2-bridge-nat.yaml").read_text()


def client_of(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def page_client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def course(teacher) -> Course:
    response = client_of(teacher).post(
        "/api/courses/", {"name": "Networks 101", "from_demo": True}, format="json"
    )
    assert response.status_code == 201, response.data
    return Course.objects.get(id=response.data["id"])


def joined(username: str, course: Course):
    user = get_user_model().objects.create_user(username, password=f"pw-{username}-1")
    response = client_of(user).post("/api/courses/join/", {"code": course.join_code.lower()}, format="json")
    assert response.status_code == 200, response.data
    return user


def test_a_teacher_makes_a_course_from_the_demo_and_students_join_with_its_code(teacher, course, user):
    data = client_of(teacher).get(f"/api/courses/{course.id}/").data
    assert data["role"] == "teacher" and len(data["join_code"]) == 8
    titles = [e["title"] for e in client_of(teacher).get(f"/api/courses/{course.id}/exercises/").data]
    assert titles == [
        "1. Host mode: two servers, one port",
        "2. Bridge mode: publish a port with NAT",
        "3. A service on a dynamic port",
        "4. One network across two hosts",
        "5. The primer, typed: host and bridge mode with the docker CLI",
        "6. An orchestrator places an app",
    ]
    api = client_of(user)
    assert api.get(f"/api/courses/{course.id}/").status_code == 404  # not in it yet
    wrong = api.post("/api/courses/join/", {"code": "NOPE2345"}, format="json")
    assert wrong.status_code == 400 and "code" in wrong.data
    assert api.post("/api/courses/join/", {"code": course.join_code}, format="json").status_code == 200
    data = api.get(f"/api/courses/{course.id}/").data
    assert data["role"] == "student" and data["join_code"] is None  # the code is for teachers


def test_only_teachers_make_courses(user):
    response = client_of(user).post("/api/courses/", {"name": "Mine"}, format="json")
    assert response.status_code == 403 and "teachers" in response.data["detail"]


def test_instructions_are_markdown_with_raw_html_and_script_links_left_out(teacher, course):
    text = EXERCISE.replace(
        "  instructions: |\n",
        "  instructions: |\n    <script>alert(1)</script> [click](javascript:alert(1)) **bold**\n",
    )
    response = client_of(teacher).post(
        f"/api/courses/{course.id}/exercises/", text, content_type="application/yaml"
    )
    assert response.status_code == 201, response.data
    html = response.data["instructions"]
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="javascript' not in html


def test_an_exercise_file_needs_its_section_and_valid_checks(teacher, course):
    api = client_of(teacher)
    plain = EXERCISE[: EXERCISE.index("exercise:")]
    response = api.post(f"/api/courses/{course.id}/exercises/", plain, content_type="application/yaml")
    assert response.status_code == 400
    assert {"path": "exercise", "message": "an exercise file needs an `exercise:` section",
            "severity": "error"} in response.data["problems"]  # fmt: skip
    broken = EXERCISE.replace("reach: {from: web, to: client}", "reach: {from: nobody, to: client}")
    response = api.post(f"/api/courses/{course.id}/exercises/", broken, content_type="application/yaml")
    assert response.status_code == 400
    assert response.data["problems"][0]["path"] == "exercise.checks[1].reach.from"


def test_a_lab_becomes_an_exercise_and_its_file_round_trips(teacher, course):
    from labs.labfiles import import_lab

    lab, _ = import_lab(EXERCISE, teacher)
    api = client_of(teacher)
    response = api.post(f"/api/courses/{course.id}/exercises/", {"lab": lab.id}, format="json")
    assert response.status_code == 201, response.data
    exported = api.get(f"/api/exercises/{response.data['id']}/export/").content.decode()
    assert "exercise:" in exported and "the client reaches web through h1:10000" in exported
    again = api.put(
        f"/api/exercises/{response.data['id']}/document/", exported, content_type="application/yaml"
    )
    assert again.status_code == 200 and again.data["version"] == 2


def test_start_makes_the_students_own_lab_without_the_exercise_section(course, user):
    joined_user = user
    Membership.objects.create(course=course, user=joined_user)
    exercise = course.exercises.get(order=2)
    response = client_of(joined_user).post(f"/api/exercises/{exercise.id}/start/")
    assert response.status_code == 202, response.data
    attempt = Attempt.objects.get(id=response.data["attempt"]["id"])
    assert attempt.lab.owner == joined_user and "exercise" not in attempt.lab.document
    assert Operation.objects.get(id=response.data["operation"]).kind == "deploy"
    again = client_of(joined_user).post(f"/api/exercises/{exercise.id}/start/")
    assert again.data["attempt"]["id"] == attempt.id  # one lab per student and exercise


def test_a_students_edits_keep_to_the_exercise_rules(course):
    student = joined("sam", course)
    exercise = course.exercises.get(order=2)  # h1 and client locked, no nodes may be added
    attempt, _ = attempts.start(exercise, student, enqueue=False)
    api = client_of(student)
    lab = attempt.lab.id
    locked = api.patch(f"/api/nodes/{_node_id(lab, 'h1')}/", {"port_range": "32000-32099"}, format="json")
    assert locked.status_code == 400
    assert locked.data["problems"][0] == {
        "path": "nodes.h1",
        "message": "h1 is locked by the exercise: it cannot be changed",
        "severity": "error",
    }
    added = api.post("/api/nodes/", {"lab": lab, "name": "extra", "kind": "host"}, format="json")
    assert added.status_code == 400
    assert "lets you add nodes of kinds none, not host" in added.data["problems"][0]["message"]
    fixed = api.patch(f"/api/nodes/{_node_id(lab, 'web')}/", {"ports": ["10000:80"]}, format="json")
    assert fixed.status_code == 200, fixed.data
    moved = api.patch(f"/api/nodes/{_node_id(lab, 'h1')}/", {"position": {"x": 5, "y": 5}}, format="json")
    assert moved.status_code == 200  # moving a locked node on the canvas is fine


def test_checking_a_students_next_document_says_what_saving_it_would_and_stores_nothing(course):
    student = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=1), student, enqueue=False)
    api, lab = client_of(student), attempt.lab_id
    doc = api.get(f"/api/labs/{lab}/export/?as=json").json()
    stored = Lab.objects.get(id=lab).document
    doc["nodes"]["h1"]["interfaces"]["eth0"]["address"] = "198.18.0.12/24"
    doc["nodes"]["r9"] = {"kind": "router"}
    checked = api.post(f"/api/labs/{lab}/check/", {"document": json.dumps(doc)}, format="json")
    assert checked.status_code == 200
    assert checked.data["valid"] is False
    assert [(p["path"], p["message"]) for p in checked.data["problems"] if p["severity"] == "error"] == [
        ("nodes.h1", "h1 is locked by the exercise: it cannot be changed"),
        ("nodes.r9.kind", "this exercise lets you add nodes of kinds container, not router"),
    ]
    assert Lab.objects.get(id=lab).document == stored
    del doc["nodes"]["r9"]
    doc["nodes"]["h1"]["interfaces"]["eth0"]["address"] = "198.18.0.11/24"
    doc["nodes"]["web-b"]["ports"] = [8080]  # the exercise's own fix
    assert api.post(f"/api/labs/{lab}/check/", {"document": json.dumps(doc)}, format="json").data["valid"]


def test_a_teacher_stopping_a_students_lab_is_told_to_its_open_views_at_once(
    course, teacher, monkeypatch, django_capture_on_commit_callbacks
):
    told = []
    monkeypatch.setattr(lifecycle, "publish_status", lambda *args: told.append(args))
    student = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=1), student, enqueue=False)
    Operation.objects.filter(lab_id=attempt.lab_id).update(status="succeeded")
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    told.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client_of(teacher).post(f"/api/attempts/{attempt.id}/stop/")
    assert response.status_code == 202, response.data
    tag = Lab.objects.get(id=attempt.lab_id).tag
    assert told == [(tag, "destroying", "queued", "tina")]  # before the lab host even takes it


def test_a_teachers_message_waits_unread_for_each_student_and_can_be_read_again(course, teacher):
    sam, kim = joined("sam", course), joined("kim", course)
    elsewhere = client_of(teacher).post("/api/courses/", {"name": "Other"}, format="json").data["id"]
    client_of(teacher).post(f"/api/courses/{elsewhere}/broadcast/", {"message": "not for 101"}, format="json")
    sent = client_of(teacher).post(f"/api/courses/{course.id}/broadcast/", {"message": "five minutes left"},
                                   format="json")  # fmt: skip
    assert sent.status_code == 202
    inbox = client_of(sam).get("/api/inbox/").data
    assert inbox["unread"] == 1
    assert [(m["from"], m["course_name"], m["message"], m["unread"]) for m in inbox["messages"]] == [
        ("tina", "Networks 101", "five minutes left", True)]  # fmt: skip
    assert client_of(teacher).get("/api/inbox/").data["messages"] == []  # a sender's own are not news
    assert client_of(sam).post("/api/inbox/read/").data["unread"] == 0
    again = client_of(sam).get("/api/inbox/").data
    assert again["unread"] == 0 and again["messages"][0]["message"] == "five minutes left"  # read again
    assert client_of(kim).get("/api/inbox/").data["unread"] == 1  # each student reads for themselves
    too_long = client_of(teacher).post(
        f"/api/courses/{course.id}/broadcast/", {"message": "x" * 501}, format="json"
    )
    assert too_long.status_code == 400 and "500 characters" in str(too_long.data["message"])


def test_the_dashboard_previews_the_exercises_and_gives_the_whole_join_link(client, course, teacher):
    from labs.labfiles import import_lab

    import_lab(EXERCISE, teacher)  # a lab with an exercise section
    import_lab("name: plain\n", teacher)  # and one without
    client.force_login(teacher)
    page = client.get(f"/courses/{course.id}/").content.decode()
    assert f'href="http://testserver/join/?code={course.join_code}"' in page
    assert page.count("Try it yourself") == course.exercises.count() == 6
    assert "In <strong>host mode</strong>" in page  # the instructions, as students read them
    options = page[
        page.index('<select name="lab">') : page.index("</select>", page.index('<select name="lab">'))
    ]
    assert "bridge-nat" in options and "plain" not in options
    response = client.post(f"/courses/{course.id}/exercises/{course.exercises.get(order=1).id}/start/")
    attempt = Attempt.objects.get(student=teacher)  # the teacher's own try, a lab like a student's
    assert response.status_code == 302 and response["Location"] == f"/labs/{attempt.lab_id}/"
    assert [
        s["username"] for s in client_of(teacher).get(f"/api/courses/{course.id}/results/").data["students"]
    ] == []


def _node_id(lab_id: int, name: str) -> int:
    return Lab.objects.get(id=lab_id).nodes.get(name=name).id


def test_students_never_see_each_others_labs_or_attempts(course, teacher):
    sam, kim = joined("sam", course), joined("kim", course)
    exercise = course.exercises.get(order=1)
    attempt, _ = attempts.start(exercise, sam, enqueue=False)
    kim_api = client_of(kim)
    assert kim_api.get(f"/api/attempts/{attempt.id}/").status_code == 404
    assert kim_api.post(f"/api/attempts/{attempt.id}/check/").status_code == 404
    assert kim_api.post(f"/api/attempts/{attempt.id}/reset/").status_code == 404
    assert kim_api.get(f"/api/labs/{attempt.lab_id}/").status_code == 404
    assert kim_api.get(f"/api/labs/{attempt.lab_id}/export/").status_code == 404
    assert kim_api.get(f"/api/courses/{course.id}/results/").status_code == 403
    watch = f"/courses/{course.id}/attempts/{attempt.id}/lab/"
    assert page_client(kim).get(watch).status_code == 404
    assert page_client(sam).get(watch).status_code == 404  # the student's own page is the lab's
    # the teacher sees it, and watches the lab read-only: its page, document and operations
    lab = f"/api/labs/{attempt.lab_id}/"
    teacher_api = client_of(teacher)
    assert teacher_api.get(f"/api/attempts/{attempt.id}/").data["student"] == "sam"
    page = page_client(teacher).get(watch)
    html = page.content.decode()
    assert page.status_code == 200 and 'data-watching="1"' in html
    assert "sam's lab · read-only" in html and 'id="deploy"' not in html
    assert teacher_api.get(lab).data["id"] == attempt.lab_id
    assert teacher_api.get(f"{lab}export/?as=json").status_code == 200
    assert teacher_api.get(f"{lab}operations/").status_code == 200
    assert teacher_api.get("/api/labs/").data == []  # not listed among the teacher's own labs
    # ... and changes nothing: every change stays the student's
    assert teacher_api.put(f"{lab}document/", {"name": "x"}, format="json").status_code == 404
    assert teacher_api.post(f"{lab}deploy/").status_code == 404
    assert (
        teacher_api.post(f"{lab}captures/", {"node": "h1", "iface": "eth0"}, format="json").status_code == 404
    )
    assert teacher_api.delete(lab).status_code == 404
    # a teacher of another course does not
    other = get_user_model().objects.create_user("otto")
    make_teacher(other)
    assert client_of(other).get(f"/api/attempts/{attempt.id}/").status_code == 404
    assert client_of(other).get(lab).status_code == 404
    assert page_client(other).get(watch).status_code == 404


def test_the_api_root_lists_the_labs_and_the_classrooms_resources(teacher):
    listed = client_of(teacher).get("/api/").data
    assert {"labs", "nodes", "shares", "courses"} <= set(listed)  # (exercises and attempts have no list)


def test_checking_a_lab_that_is_not_running_says_so(course):
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=1), sam, deploy=False)
    response = client_of(sam).post(f"/api/attempts/{attempt.id}/check/")
    assert response.status_code == 409
    assert response.data["detail"] == "your lab is draft: deploy it first, then check"


def test_a_check_round_is_one_job_with_the_exercise_checks(course):
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=4), sam, deploy=False)
    Lab.objects.filter(id=attempt.lab_id).update(status="running")
    op = attempts.request_check(attempt, sam, enqueue=False)
    assert op.kind == "check" and op.params["attempt"] == attempt.id
    assert [c["title"] for c in op.params["checks"]] == [
        "app-1 reaches app-2",
        "app-2 reaches app-1",
        "app-2 has an address on the overlay",
    ]
    assert attempts.request_check(attempt, sam, enqueue=False).id == op.id  # not twice at once
    attempt.refresh_from_db()
    assert attempt.checking is True


def test_results_score_by_weight_and_export_as_csv(course, teacher):
    sam = joined("sam", course)
    joined("kim", course)
    exercise = course.exercises.get(order=1)
    attempt, _ = attempts.start(exercise, sam, deploy=False)
    grading.record(attempt.id, [
        {"index": 0, "title": "a", "passed": True, "message": "ok", "node": "client", "weight": 1},
        {"index": 1, "title": "b", "passed": False, "message": "no", "node": "client", "weight": 2},
    ])  # fmt: skip
    grid = client_of(teacher).get(f"/api/courses/{course.id}/results/").data
    by_name = {s["username"]: s for s in grid["students"]}
    assert by_name["sam"]["attempts"][str(exercise.id)]["score"] == pytest.approx(1 / 3, abs=1e-3)
    assert by_name["kim"]["attempts"][str(exercise.id)] is None
    text = client_of(teacher).get(f"/api/courses/{course.id}/results/?as=csv").content.decode()
    rows = list(csv.reader(io.StringIO(text)))
    title = "1. Host mode: two servers, one port"
    assert rows[0][:7] == ["student", f"{title}: score", f"{title}: first passed", f"{title}: last checked",
                           f"{title}: late", f"{title}: web-a answers on h1:80", f"{title}: web-b answers on h1:8080"]  # fmt: skip
    by_student = {row[0]: row for row in rows[1:]}
    attempt.refresh_from_db()
    assert by_student["sam"][1:7] == ["0.33", "", attempt.checked.isoformat(), "", "pass", "fail"]
    assert by_student["kim"][1:7] == [""] * 6

    grading.record(attempt.id, [
        {"index": 0, "title": "a", "passed": True, "message": "ok", "node": "client", "weight": 1},
        {"index": 1, "title": "b", "passed": True, "message": "ok", "node": "client", "weight": 2},
    ])  # fmt: skip
    attempt.refresh_from_db()
    text = client_of(teacher).get(f"/api/courses/{course.id}/results/?as=csv").content.decode()
    sam_row = next(row for row in csv.reader(io.StringIO(text)) if row[0] == "sam")
    assert sam_row[1:3] == ["1.00", attempt.first_passed.isoformat()]


def test_a_roster_makes_accounts_with_one_time_passwords(course, teacher, user):
    response = client_of(teacher).post(
        f"/api/courses/{course.id}/roster/", {"csv": "username\nana\nben\nalice\n"}, format="json"
    )
    assert response.status_code == 201, response.data
    made = {s["username"]: s["password"] for s in response.data["students"]}
    assert made["alice"] is None  # an existing account just joins
    assert get_user_model().objects.get(username="ana").check_password(made["ana"])
    assert Membership.objects.filter(course=course, role="student").count() == 3
    bad = client_of(teacher).post(
        f"/api/courses/{course.id}/roster/", {"csv": "no spaces allowed"}, format="json"
    )
    assert bad.status_code == 400 and "roster" in bad.data


def test_a_visitor_signs_up_with_the_join_code_and_lands_in_the_course(client, course):
    page = client.get(f"/join/?code={course.join_code}")
    assert page.status_code == 200 and b'name="username"' in page.content
    wrong = client.post("/join/", {"code": "WRONG234", "username": "zoe", "password": "a-long-pass-123"})
    assert wrong.status_code == 400 and b"no open course has this code" in wrong.content
    taken = client.post(
        "/join/", {"code": course.join_code, "username": "tina", "password": "a-long-pass-123"}
    )
    assert taken.status_code == 400 and b"the name tina is taken" in taken.content
    response = client.post(
        "/join/", {"code": course.join_code, "username": "zoe", "password": "a-long-pass-123"}
    )
    assert response.status_code == 302 and response["Location"] == f"/courses/{course.id}/"
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"2. Bridge mode: publish a port with NAT" in page.content
    assert b'id="dashboard"' not in page.content  # a student's page, not the teacher's
    assert Membership.objects.get(course=course, user__username="zoe").role == "student"


def test_course_pages_show_each_role_its_own_and_nobody_else_anything(client, course, teacher, user):
    client.force_login(teacher)
    dashboard = client.get(f"/courses/{course.id}/")
    assert b'id="dashboard"' in dashboard.content and course.join_code.encode() in dashboard.content
    client.force_login(user)  # in no course
    assert client.get(f"/courses/{course.id}/").status_code == 404
    exercise = course.exercises.first()
    assert client.post(f"/courses/{course.id}/exercises/{exercise.id}/start/").status_code == 404
    assert b"You are in no course yet" in client.get("/courses/").content


def test_the_student_lab_page_carries_its_exercise(client, course):
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=3), sam, enqueue=False)
    client.force_login(sam)
    page = client.get(f"/labs/{attempt.lab_id}/")
    assert f'data-attempt-id="{attempt.id}"'.encode() in page.content
    assert b'id="exercise"' in page.content


def _running(attempt, since_minutes: int = 0):
    from datetime import timedelta

    from django.utils import timezone

    then = timezone.now() - timedelta(minutes=since_minutes)
    Lab.objects.filter(id=attempt.lab_id).update(status="running", updated=then)
    return then


def test_upkeep_takes_down_idle_labs_and_ignores_automatic_checks(course, settings):
    from labs.classroom.upkeep import stop_idle_labs

    settings.WIRELAB_IDLE_LAB_MINUTES = 30
    sam, kim = joined("sam", course), joined("kim", course)
    idle, _ = attempts.start(course.exercises.get(order=1), sam, deploy=False)
    busy, _ = attempts.start(course.exercises.get(order=1), kim, deploy=False)
    _running(idle, since_minutes=45)
    _running(busy, since_minutes=45)
    attempts.request_check(idle, sam, automatic=True, enqueue=False)  # not activity
    attempts.request_check(busy, kim, enqueue=False)  # kim pressed Check: activity
    assert stop_idle_labs("local") == [idle.lab.slug]
    lab = Lab.objects.get(id=idle.lab_id)
    assert lab.status == "destroying"
    assert (
        lab.events.first().message == "stopped after 30 minutes without activity (deploy it again to go on)"
    )
    assert Lab.objects.get(id=busy.lab_id).status == "running"


def test_upkeep_ends_labs_of_closed_exercises_and_checks_when_due(course):
    from datetime import timedelta

    from django.utils import timezone

    from labs.classroom.exercises import document_of, replace_exercise
    from labs.classroom.upkeep import check_due, end_closed_exercises

    sam = joined("sam", course)
    closing, checked = course.exercises.get(order=1), course.exercises.get(order=2)
    closed_doc = document_of(closing)
    closed_doc.exercise.closes = timezone.now() - timedelta(minutes=1)
    closed_doc.exercise.opens = timezone.now() - timedelta(hours=1)
    every_doc = document_of(checked)
    every_doc.exercise.check_every = 60
    a1, _ = attempts.start(closing, sam, deploy=False)
    a2, _ = attempts.start(checked, sam, deploy=False)
    replace_exercise(closing, closed_doc)
    replace_exercise(checked, every_doc)
    _running(a1)
    _running(a2)
    assert end_closed_exercises("local") == [a1.lab.slug]
    assert check_due("local") == [a2.id]
    assert check_due("local") == []  # one round on its way already
    op = Operation.objects.get(lab_id=a2.lab_id, kind="check")
    assert op.params["automatic"] is True
    Operation.objects.filter(id=op.id).update(status="succeeded")
    Attempt.objects.filter(id=a2.id).update(checked=timezone.now())
    assert check_due("local") == []  # checked less than a minute ago
    refused = client_of(sam).post(f"/api/exercises/{closing.id}/start/")
    assert refused.status_code == 409 and refused.data["detail"].startswith("this exercise closed at")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_an_exercise_without_consoles_refuses_them_and_commands(teacher):
    from asgiref.sync import sync_to_async

    from labs import controls
    from labs.classroom.courses import create_course, join
    from labs.classroom.exercise_files import read_exercise
    from labs.classroom.exercises import add_exercise

    def prepare():
        course = create_course("No shells", teacher)
        exercise = add_exercise(
            course, read_exercise(EXERCISE.replace("  locked: [h1, client]", "  consoles: false"))
        )
        sam = get_user_model().objects.create_user("sam")
        join(course, sam)
        attempt, _ = attempts.start(exercise, sam, deploy=False)
        Lab.objects.filter(id=attempt.lab_id).update(status="running")
        with pytest.raises(controls.ControlRefused, match="does not allow consoles or commands"):
            controls.request_exec(Lab.objects.get(id=attempt.lab_id), "client", ["true"])
        return sam, attempt.lab_id

    sam, lab_id = await sync_to_async(prepare)()
    socket = await connect(f"/ws/labs/{lab_id}/nodes/client/console/", sam)
    assert (await socket.connect())[0]
    refused = await socket.receive_json_from(timeout=10)
    assert refused["message"] == "this exercise does not allow consoles or commands in its lab"
    assert (await socket.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4403}


def test_a_course_limits_its_running_labs_and_shows_where_each_waits(course):
    sam, kim, ana = joined("sam", course), joined("kim", course), joined("ana", course)
    exercise = course.exercises.get(order=1)
    first, op1 = attempts.start(exercise, sam, enqueue=False)
    second, _ = attempts.start(exercise, kim, enqueue=False)
    queues = [grading.summary(Attempt.objects.get(id=a.id))["queue"] for a in (first, second)]
    assert queues == [0, 1]
    Course.objects.filter(id=course.id).update(max_running_labs=2)
    response = client_of(ana).post(f"/api/exercises/{exercise.id}/start/")
    assert response.status_code == 429
    assert response.data["detail"] == (
        "Networks 101 has 2 labs running and may have 2: wait for one to stop, then deploy"
    )
    assert response.data["attempt"]["lab_status"] == "draft"  # the lab is there, undeployed
    Operation.objects.filter(id=op1.id).update(status="succeeded")
    Lab.objects.filter(id=first.lab_id).update(status="stopped")
    assert client_of(ana).post(f"/api/exercises/{exercise.id}/start/").status_code == 202


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_another_students_lab_page_and_sockets_are_closed_to_a_student(teacher, client):
    from asgiref.sync import sync_to_async

    from labs.classroom.courses import create_course, join

    def prepare():
        course = create_course("Pairs", teacher, from_demo=True)
        sam, kim = (get_user_model().objects.create_user(n) for n in ("sam", "kim"))
        join(course, sam)
        join(course, kim)
        attempt, _ = attempts.start(course.exercises.get(order=1), sam, deploy=False)
        client.force_login(kim)
        assert client.get(f"/labs/{attempt.lab_id}/").status_code == 404
        return kim, attempt.lab_id

    kim, lab_id = await sync_to_async(prepare)()
    for path in (f"/ws/labs/{lab_id}/", f"/ws/labs/{lab_id}/nodes/client/console/"):
        assert (await refused(path, kim)) == (False, 4403), path


def test_a_teacher_adds_an_exercise_from_a_file_or_a_lab_on_the_course_page(client, course, teacher, user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from labs.labfiles import import_lab

    client.force_login(teacher)
    upload = SimpleUploadedFile("ex.yaml", EXERCISE.replace("2. Bridge mode", "7. Again").encode())
    page = client.post(f"/courses/{course.id}/exercises/new/", {"file": upload}, follow=True)
    assert b"7. Again: publish a port with NAT added" in page.content
    plain, _ = import_lab(EXERCISE[: EXERCISE.index("exercise:")], teacher)
    page = client.post(f"/courses/{course.id}/exercises/new/", {"lab": plain.id}, follow=True)
    assert b"not added: exercise: an exercise file needs an `exercise:` section" in page.content
    assert course.exercises.count() == 7
    client.force_login(user)
    assert client.post(f"/courses/{course.id}/exercises/new/", {"lab": plain.id}).status_code == 404


def test_the_console_watch_page_is_for_the_course_teachers(client, course, teacher):
    sam = joined("sam", course)
    attempt, _ = attempts.start(course.exercises.get(order=1), sam, deploy=False)
    client.force_login(teacher)
    page = client.get(f"/courses/{course.id}/attempts/{attempt.id}/console/?node=web-b")
    assert page.status_code == 200
    assert b'data-node="web-b"' in page.content and b"<option>client</option>" in page.content
    client.force_login(sam)
    assert client.get(f"/courses/{course.id}/attempts/{attempt.id}/console/").status_code == 404
