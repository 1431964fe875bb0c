"""What one person can multiply: accounts made with a course code (passwords checked, accounts
per address, students per course, a code that expires) and labs kept per user (how many, how
many bytes)."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from labs.classroom import courses
from labs.classroom.models import Course, Membership
from labs.labfiles import import_lab
from labs.models import Lab
from topology.problems import TopologyError

pytestmark = pytest.mark.django_db
LAB = "name: {name}\ndescription: '{text}'\nnodes:\n  a: {{kind: host}}\n"


@pytest.fixture
def course(teacher) -> Course:
    return courses.create_course("Networks 101", teacher)


def sign_up(course: Course, name: str, password: str = "a-long-pass-123", address: str = "192.0.2.1"):
    data = {"code": course.join_code, "username": name, "password": password}
    return Client(REMOTE_ADDR=address).post("/join/", data)


def test_a_weak_password_is_refused_and_says_why(course):
    for password, why in [
        ("12345678", b"entirely numeric"),
        ("password", b"too common"),
        ("zoe-the-student", b"too similar to the username"),
        ("short", b"too short"),
    ]:
        name = "zoe-the-student" if "zoe" in password else "zoe"
        response = sign_up(course, name, password)
        assert response.status_code == 400 and why in response.content, (password, response.content)
    assert not get_user_model().objects.filter(username__startswith="zoe").exists()


def test_accounts_from_one_address_are_bounded_per_hour(course, settings):
    settings.WIRELAB_SIGNUPS_PER_ADDRESS = 3
    for n in range(3):
        assert sign_up(course, f"s{n}").status_code == 302
    refused = sign_up(course, "s3")
    assert refused.status_code == 429 and b"3 accounts were made from here this hour" in refused.content
    assert sign_up(course, "s4", address="192.0.2.2").status_code == 302  # another address
    made = set(get_user_model().objects.filter(username__startswith="s").values_list("username", flat=True))
    assert made == {"s0", "s1", "s2", "s4"}


def test_a_full_course_refuses_more_students_but_a_teachers_list_still_adds_them(course, teacher):
    Course.objects.filter(id=course.id).update(max_students=2)
    assert sign_up(course, "s0").status_code == 302
    assert sign_up(course, "s1").status_code == 302
    full = sign_up(course, "s2")
    assert full.status_code == 400 and b"this course is full (2 students)" in full.content
    assert not get_user_model().objects.filter(username="s2").exists()  # no account made either

    someone = get_user_model().objects.create_user("sam", password="pw-sam-12345")
    api = Client()
    api.force_login(someone)
    refused = api.post("/api/courses/join/", {"code": course.join_code}, content_type="application/json")
    assert refused.status_code == 400 and "this course is full" in refused.json()["code"]

    courses.enroll_roster(course, "username\nsam\nnew-one\n")
    assert course.members.filter(role=Membership.Role.STUDENT).count() == 4


def test_a_code_past_its_time_lets_no_one_in(course):
    Course.objects.filter(id=course.id).update(joining_until=timezone.now() - datetime.timedelta(minutes=1))
    response = sign_up(course, "late")
    assert response.status_code == 400 and b"no open course has this code" in response.content
    Course.objects.filter(id=course.id).update(joining_until=timezone.now() + datetime.timedelta(hours=1))
    assert sign_up(course, "early").status_code == 302


def test_a_teacher_sets_joining_and_a_student_cannot(course, teacher):
    page = Client()
    page.force_login(teacher)
    dashboard = page.get(f"/courses/{course.id}/")
    assert b'id="joining"' in dashboard.content and b'name="max_students" min="0"' in dashboard.content
    fields = {"joining_until": "2031-05-01T09:30", "max_students": "25", "max_running_labs": "12"}
    saved = page.post(f"/courses/{course.id}/joining/", fields, follow=True)  # the box unticked: closed
    assert b"joining saved" in saved.content
    course.refresh_from_db()
    assert (course.joining_open, course.max_students, course.max_running_labs) == (False, 25, 12)
    assert course.joining_until == datetime.datetime(2031, 5, 1, 9, 30, tzinfo=datetime.UTC)

    bad = page.post(f"/courses/{course.id}/joining/", {**fields, "max_students": "-1"}, follow=True)
    assert b"joining not saved: max students:" in bad.content
    course.refresh_from_db()
    assert course.max_students == 25

    student = get_user_model().objects.create_user("stu", password="pw-stu-12345")
    courses.join(course, student)
    other = Client()
    other.force_login(student)
    assert other.post(f"/courses/{course.id}/joining/", {**fields, "max_students": "0"}).status_code == 404
    course.refresh_from_db()
    assert course.max_students == 25


def test_new_courses_bound_students_and_running_labs(teacher):
    course = courses.create_course("Fresh", teacher)
    assert course.max_students == 100 and course.max_running_labs == 40


def test_labs_kept_per_user_are_bounded_in_number_and_bytes(user, api, settings):
    settings.WIRELAB_MAX_LABS_PER_USER = 2
    for n in range(2):
        import_lab(LAB.format(name=f"lab{n}", text="x"), user)
    refused = api.post(
        "/api/labs/import/", LAB.format(name="lab2", text="x"), content_type="application/yaml"
    )
    assert refused.status_code == 400, refused.content
    assert "you keep 2 labs, the most one user may" in refused.content.decode()
    assert Lab.objects.filter(owner=user).count() == 2

    settings.WIRELAB_MAX_LABS_PER_USER = 100
    settings.WIRELAB_MAX_STORED_BYTES_PER_USER = 20_000
    lab, _ = import_lab(LAB.format(name="big", text="y" * 9_000), user)
    with pytest.raises(
        TopologyError, match=r"your labs would hold 2[0-9] kB of documents, more than the 20 kB one"
    ):
        import_lab(LAB.format(name="bigger", text="z" * 12_000), user)
    # a lab's own new version counts instead of its old one, not beside it
    from labs.store.documents import edit_document

    edit_document(lab, lambda data: data.update(description="w" * 9_500))
    assert Lab.objects.filter(owner=user).count() == 3
