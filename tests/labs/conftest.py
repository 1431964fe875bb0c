"""Fixtures for the web side: users, API clients and stored demo labs."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password="pw-alice-1")


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password="pw-bob-1")


@pytest.fixture
def teacher(db):
    from labs.classroom.roles import make_teacher

    user = get_user_model().objects.create_user("tina", password="pw-tina-1")
    make_teacher(user)
    return user


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def lab(user, demo_text):
    from labs.labfiles import import_lab

    return import_lab(demo_text("docker-modes"), user)[0]


@pytest.fixture
def labs_made():
    """Labs created by a test; their lab host objects are destroyed afterwards, by tag."""
    from tests.worker.conftest import leftovers
    from worker.converge import destroy

    made: list = []
    yield made
    for lab in made:
        stopped(lab)
        destroy(lab.tag, lab.labhost)
        assert leftovers(lab.tag) == []


def stopped(lab) -> None:
    """The lab's row says it is stopped before it is taken down behind the web side's back, as a
    destroy would say: so the orchestrator's upkeep in a running monitor never heals it back."""
    from labs.models import Lab

    Lab.objects.filter(id=lab.id).update(status="stopped")


@pytest.fixture
def monitor():
    """The live monitor of this lab host, in this process."""
    from labs.hostside.monitor import MonitorService

    service = MonitorService(tick=0.5)
    service.start()
    yield service
    service.stop()


@pytest.fixture
def demo_course(db):
    """The demo course (the primer's exercises), taught by tina."""
    from labs.classroom.courses import create_course
    from labs.classroom.roles import make_teacher

    teacher = get_user_model().objects.create_user("tina")
    make_teacher(teacher)
    return create_course("Primer", teacher, from_demo=True)


@pytest.fixture
def student(demo_course):
    """Sam, a student of the demo course."""
    from labs.classroom.courses import join

    user = get_user_model().objects.create_user("sam")
    join(demo_course, user)
    return user


@pytest.fixture
def console_relay():
    """This process serves consoles as the lab host's worker does."""
    from django.conf import settings

    from labs.hostside.consoles import ConsoleRelay
    from worker.labhost import Engine

    relay = ConsoleRelay(settings.WIRELAB_LABHOST, Engine(), idle_seconds=60)
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture
def labs_up():
    """`labs_up(text, user)` deploys a lab for real; destroyed after, leaving nothing."""
    from tests.labs.live_helpers import deploy
    from tests.worker.conftest import leftovers
    from worker.converge import destroy

    made = []

    def up(text, user):
        lab = deploy(text, user)
        made.append(lab)
        return lab

    yield up
    for lab in made:
        stopped(lab)
        destroy(lab.tag, lab.labhost)
        assert leftovers(lab.tag) == []
