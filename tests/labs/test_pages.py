"""Pages: home, sign in, admin, and /health/ against the real services."""

import time
import uuid

import pytest

from tests.processes import start_worker

pytestmark = pytest.mark.django_db


def test_home_lists_my_labs(client, lab):
    assert b"Sign in" in client.get("/").content
    client.force_login(lab.owner)
    page = client.get("/").content.decode()
    assert "docker-modes" in page
    assert f"/api/labs/{lab.id}/export/" in page


def test_the_front_page_shows_a_visitor_what_wirelab_does(client):
    page = client.get("/").content.decode()
    for mode in ("Host mode", "Bridge mode", "Overlay", "Dynamic ports"):
        assert f"<b>{mode}</b>" in page
    assert 'src="/static/wirelab/running-lab.png"' in page and "A running lab" in page
    from django.contrib.staticfiles import finders

    assert finders.find("wirelab/running-lab.png")  # collected and served with the other static files


def test_an_empty_account_says_what_to_do_and_opens_a_demo(client, user):
    from labs.models import Lab

    client.force_login(user)
    page = client.get("/").content.decode()
    assert "No labs yet" in page and "Start from a demo" in page
    assert 'action="/labs/demo/docker-modes/"' in page and 'action="/labs/demo/routed/"' in page
    response = client.post("/labs/demo/routed/")
    lab = Lab.objects.get(owner=user)
    assert response.status_code == 302 and response["Location"] == f"/labs/{lab.id}/"
    assert lab.name == "routed" and set(lab.document["nodes"]) == {"r1", "h1", "h2"}
    assert "No labs yet" not in client.get("/").content.decode()
    response = client.post("/labs/demo/nothing-here/", follow=True)
    assert "there is no demo named" in response.content.decode()
    assert Lab.objects.filter(owner=user).count() == 1
    assert client.get("/labs/demo/routed/").status_code == 405  # opening one is a POST


def test_a_lab_tells_the_addresses_it_was_given(client, lab):
    client.force_login(lab.owner)
    body = client.get(f"/api/labs/{lab.id}/").json()
    addresses = body["assigned_addresses"]
    given = lab.assignments
    assert addresses == {**given["interfaces"], **given["bridges"], **given["containers"]}
    assert addresses["app-1"].startswith("198.19.128.") and addresses["nginx-2"].endswith("/24")
    assert addresses["h1:docker0"] == "198.19.0.1/24"  # the gateway of h1's bridge-mode containers


def test_sign_in_page(client, user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-1"})
    assert response.status_code == 302


def test_every_model_is_in_the_admin(admin_client, lab):
    from django.apps import apps

    models = [m for m in apps.get_models() if m._meta.app_label in ("topology", "labs")]
    assert len(models) >= 7
    for model in models:
        page = admin_client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/?q=h")
        assert page.status_code == 200, model


@pytest.mark.kernel
def test_health_reports_real_services(admin_client, client):
    from django.core.cache import cache

    from labs.hostside.monitor import MonitorService

    monitor = MonitorService()
    monitor.start()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            cache.clear()
            checks = {c["name"]: c for c in admin_client.get("/health/?format=json").json()["checks"]}
            if checks["monitors"]["up"]:
                break
            time.sleep(1)
    finally:
        monitor.stop()
    assert checks["database"]["up"] and "postgresql" in checks["database"]["detail"]
    assert checks["redis"]["up"] and "Redis" in checks["redis"]["detail"]
    assert checks["monitors"]["up"] and "Docker engine" in checks["monitors"]["detail"]
    assert set(checks) == {"database", "redis", "monitors", "labhosts"}
    anonymous = client.get("/health/?format=json").json()
    assert anonymous["checks"] == [] and "ok" in anonymous  # no URLs, versions or names for strangers


def test_health_names_the_reason_when_something_is_down(admin_client, client, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = admin_client.get("/health/")
    assert response.status_code == 503
    assert b"redis://127.0.0.1:1/0" in response.content
    stranger = client.get("/health/")
    assert stranger.status_code == 503 and b"redis://" not in stranger.content


@pytest.mark.kernel
def test_health_sees_a_running_lab_host(admin_client):
    from django.core.cache import cache

    queue = f"test-{uuid.uuid4().hex[:8]}"
    worker = start_worker(queue, shared_database=False)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            labhosts = next(
                c
                for c in admin_client.get("/health/?format=json").json()["checks"]
                if c["name"] == "labhosts"
            )
            if queue in labhosts["detail"]:
                break
            time.sleep(0.5)
            cache.clear()
        assert labhosts["up"] and queue in labhosts["detail"]
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_a_demo_is_described_once_on_my_labs(client, user):
    client.force_login(user)
    card = "too (<code>wget -qO- http://web/</code>)"  # the backticks shown as code
    assert client.get("/").content.decode().count(card) == 1
    client.post("/labs/demo/load-balancing/")
    page = client.get("/").content.decode()
    assert card not in page  # listed as the user's lab, not again as a card
    assert page.count('id="demo-load-balancing"') == 1 and 'id="demo-routed"' in page  # a fresh copy


def test_the_way_in_for_a_class_and_what_a_student_is_offered(client, user):
    from labs.classroom.courses import create_course, join
    from labs.classroom.roles import make_teacher

    for page in ("/", "/accounts/login/"):
        assert 'href="/join/"' in client.get(page).content.decode(), page
    wrong = client.post("/join/", {"code": "NOPE1234", "username": "sam", "password": "a-long-pass-1"})
    assert wrong.status_code == 400 and 'value="sam"' in wrong.content.decode()  # the name is kept
    make_teacher(user)
    course = create_course("Nets", user)
    client.force_login(user)
    assert 'href="/api/schema/ui/"' in client.get("/").content.decode()  # a teacher builds
    student = type(user).objects.create_user("sam", password="pw-sam-12345")
    join(course, student)
    client.force_login(student)
    page = client.get("/courses/").content.decode()
    assert 'href="/api/schema/ui/"' not in page and 'href="/health/"' not in page


def test_a_missing_page_is_wirelabs_own_and_says_where_to_go(client, user, settings):
    settings.DEBUG = False
    client.force_login(user)
    response = client.get("/labs/999999/")
    assert response.status_code == 404
    page = response.content.decode()
    assert "<h1>Not found</h1>" in page and 'href="/courses/"' in page and "Sign out" in page
