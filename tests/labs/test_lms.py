"""Wirelab in an LMS, against a simulated platform on loopback (LTI 1.3 Advantage): a teacher's
launch makes the course and brings in the LMS's class list, deep linking places exercises with
a gradebook column, a student's launch signs them in to their own lab, and a score that checks
change reaches the LMS's gradebook. No lab host needed."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from django.test import Client
from pylti1p3.contrib.django.lti1p3_tool_config.models import LtiTool, LtiToolKey

from labs.classroom import grading
from labs.classroom.models import Attempt, Course, LtiGrade, Membership
from tests.labs.lms_platform import CLIENT_ID, DEPLOYMENT, ISSUER, SCORE_SCOPE, Platform, rsa_pair

pytestmark = pytest.mark.django_db(transaction=True)
TEACHER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
LEARNER = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DEEP_LINKING = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"


@pytest.fixture
def platform():
    private, public = rsa_pair()
    key = LtiToolKey.objects.create(name="wirelab", private_key=private, public_key=public)
    simulated = Platform(tool_public_key=public)
    LtiTool.objects.create(
        title="The LMS",
        issuer=ISSUER,
        client_id=CLIENT_ID,
        auth_login_url=f"{simulated.url}/auth",
        auth_token_url=f"{simulated.url}/token",
        key_set=json.dumps(simulated.jwks()),
        tool_key=key,
        deployment_ids=json.dumps([DEPLOYMENT]),
    )
    yield simulated
    simulated.close()


def launched(browser: Client, platform: Platform, sub: str, roles: list[str], **claims):
    """The browser's way through a launch: the LMS starts the login, Wirelab sends it back to
    the LMS with a state and a nonce, and the LMS posts the signed launch."""
    started = browser.post("/lti/login/", {"iss": ISSUER, "client_id": CLIENT_ID, "login_hint": sub,
                                           "target_link_uri": "http://testserver/lti/launch/"})  # fmt: skip
    assert started.status_code == 302, started.content
    asked = {k: v[0] for k, v in parse_qs(urlparse(started["Location"]).query).items()}
    assert started["Location"].startswith(f"{platform.url}/auth?") and asked["client_id"] == CLIENT_ID
    token = platform.id_token(asked["nonce"], sub, roles, **claims)
    return browser.post("/lti/launch/", {"id_token": token, "state": asked["state"]})


def test_a_course_in_an_lms_places_exercises_signs_students_in_and_gets_their_scores(platform):
    platform.members = [
        {"user_id": "s-1", "name": "Ana Lopez", "roles": LEARNER, "status": "Active"},
        {"user_id": "s-2", "name": "Ben Ito", "roles": LEARNER, "status": "Active"},
        {"user_id": "t-1", "name": "Tina", "roles": TEACHER, "status": "Active"},
    ]
    teacher = Client()
    services = {NRPS: {"context_memberships_url": f"{platform.url}/memberships", "service_versions": ["2.0"]}}
    # the teacher's first launch: the course is made, with the LMS's class list in it
    settings = {"deep_link_return_url": f"{platform.url}/deep-links", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["window"]}  # fmt: skip
    page = launched(teacher, platform, "t-1", TEACHER, name="Tina", message_type="LtiDeepLinkingRequest",
                    **{DEEP_LINKING: settings}, **services)  # fmt: skip
    assert page.status_code == 200, page.content
    course = Course.objects.get(name="Networks in the LMS")
    roles = {m.user.username: m.role for m in Membership.objects.filter(course=course).select_related("user")}
    assert roles == {"Tina": "teacher", "Ana.Lopez": "student", "Ben.Ito": "student"}
    # the course has the demo's exercises when the teacher adds them; place the second
    from labs.classroom.courses import demo_exercise, demo_files
    from labs.classroom.exercises import add_exercise

    exercises = [add_exercise(course, demo_exercise(path)) for path in demo_files()[:2]]
    page = launched(
        teacher, platform, "t-1", TEACHER, message_type="LtiDeepLinkingRequest", **{DEEP_LINKING: settings}
    )
    launch_id = page.content.decode().split('name="launch" value="')[1].split('"')[0]
    placed = teacher.post("/lti/deep-link/", {"launch": launch_id, "exercise": [str(exercises[1].id)]})
    assert placed.status_code == 200 and f'action="{platform.url}/deep-links"' in placed.content.decode()
    answer = placed.content.decode().split('name="JWT" value="')[1].split('"')[0]
    key = LtiToolKey.objects.get(name="wirelab").public_key
    items = jwt.decode(answer, key, algorithms=["RS256"], audience=ISSUER)[
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    assert [(i["title"], i["custom"], i["lineItem"]["scoreMaximum"]) for i in items] == [
        (exercises[1].title, {"exercise": str(exercises[1].id)}, 1)
    ]

    # a student opens the placed exercise: signed in as themselves, in their own lab
    student = Client()
    ags = {"scope": [SCORE_SCOPE], "lineitem": f"{platform.url}/lineitems/7"}
    opened = launched(student, platform, "s-1", LEARNER, name="Ana Lopez", link="link-7",
                      **{"https://purl.imsglobal.org/spec/lti/claim/custom": items[0]["custom"],
                         "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": ags})  # fmt: skip
    attempt = Attempt.objects.get(exercise=exercises[1], student__username="Ana.Lopez")
    assert opened.status_code == 302 and opened["Location"] == f"/labs/{attempt.lab_id}/"
    assert student.get(opened["Location"]).status_code == 200  # signed in

    # checks pass: the score goes to the LMS's gradebook column, once per change
    grading.record(attempt.id, [
        {"index": i, "title": "t", "passed": True, "message": "ok", "node": "client", "weight": 1} for i in range(2)
    ])  # fmt: skip
    deadline = time.monotonic() + 60
    while not platform.scores and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [(s["lineitem"], s["userId"], s["scoreGiven"], s["scoreMaximum"], s["activityProgress"])
            for s in platform.scores] == [("/lineitems/7/scores", "s-1", 1, 1, "Completed")]  # fmt: skip
    deadline = time.monotonic() + 30
    while LtiGrade.objects.get(attempt=attempt).sent_score != 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert LtiGrade.objects.get(attempt=attempt).error == ""
    for sending in [t for t in threading.enumerate() if t.name.startswith("lms-score-")]:
        sending.join(30)  # its database connection closed before the test's database goes


def test_a_launch_the_lms_did_not_sign_or_before_the_course_exists_is_refused(platform):
    browser = Client()
    forged = Platform(tool_public_key="")  # another key than the registered one
    try:
        started = browser.post("/lti/login/", {"iss": ISSUER, "client_id": CLIENT_ID, "login_hint": "x",
                                               "target_link_uri": "http://testserver/lti/launch/"})  # fmt: skip
        asked = {k: v[0] for k, v in parse_qs(urlparse(started["Location"]).query).items()}
        refused = browser.post("/lti/launch/", {"id_token": forged.id_token(asked["nonce"], "s-9", LEARNER),
                                                "state": asked["state"]})  # fmt: skip
        assert refused.status_code == 400 and b"could not be checked" in refused.content
    finally:
        forged.close()
    early = launched(Client(), platform, "s-1", LEARNER)
    assert early.status_code == 403 and b"has not opened this course in Wirelab yet" in early.content
    unknown = Client().post("/lti/login/", {"iss": "https://other.invalid", "login_hint": "x",
                                            "target_link_uri": "http://testserver/lti/launch/"})  # fmt: skip
    assert unknown.status_code == 400 and b"not registered here" in unknown.content
