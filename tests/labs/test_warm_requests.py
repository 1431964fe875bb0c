"""Asking for warm sandboxes (no lab host needed): the setting's format, and a teacher's
request to prepare an exercise for a class."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import _pool_sizes
from tests.labs.test_classroom import client_of, course, joined  # noqa: F401 (fixtures)


def test_the_pool_setting_is_image_equals_count():
    given = " wirelab/node:busybox=8, registry:5000/frr:9=2 ,"
    assert _pool_sizes("WIRELAB_POOL", given) == {"wirelab/node:busybox": 8, "registry:5000/frr:9": 2}
    assert _pool_sizes("WIRELAB_POOL", "") == {}
    with pytest.raises(ImproperlyConfigured, match="WIRELAB_POOL: 'wirelab/node:busybox' is not IMAGE=COUNT"):
        _pool_sizes("WIRELAB_POOL", "wirelab/node:busybox")


def test_a_teacher_prepares_an_exercise_for_a_class(course, teacher, monkeypatch, settings):  # noqa: F811
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: sent.append((name, kw)))
    exercise = course.exercises.get(title__startswith="2.")  # two hosts and a bridge-mode app
    url = f"/api/exercises/{exercise.id}/prepare/"

    student = joined("sam", course)
    assert client_of(student).post(url, {"students": 30}, format="json").status_code == 403
    too_many = client_of(teacher).post(url, {"students": 100000}, format="json")
    assert too_many.status_code == 400 and "students" in too_many.data
    assert sent == []

    response = client_of(teacher).post(url, {"students": 30}, format="json")
    assert response.status_code == 202, response.data
    assert response.data["per_lab_host"] == {"wirelab/node:busybox": 60}
    assert response.data["lab_hosts"] == ["local"]  # none registered yet: this one
    assert sent == [
        (
            "labs.tasks.prepare_warm",
            {
                "args": [],
                "kwargs": {"counts": {"wirelab/node:busybox": 60}, "seconds": 7200},
                "queue": "local",
            },
        )
    ]
    assert "note" not in response.data
    settings.WIRELAB_POOL_MAX = 50
    capped = client_of(teacher).post(url, {"students": 30}, format="json")
    assert "at most 50 warm sandboxes" in capped.data["note"]


def test_a_prepared_class_is_ready_when_its_lab_hosts_report_the_machines_warm(course, teacher):  # noqa: F811
    from django.utils import timezone

    from labs.models import LabHost

    exercise = course.exercises.get(title__startswith="2.")  # two busybox sandboxes a lab
    url = f"/api/exercises/{exercise.id}/prepare/?students=3"
    busybox = "wirelab/node:busybox"
    now = timezone.now()
    LabHost.objects.create(name="h-a", last_heartbeat=now, warm=[{"image": busybox, "size": 8, "ready": 2}])
    LabHost.objects.create(name="h-b", last_heartbeat=now, warm=[{"image": busybox, "size": 4, "ready": 4}])
    assert client_of(joined("sam", course)).get(url).status_code == 403
    assert client_of(teacher).get(url.replace("=3", "=0")).status_code == 400
    # three students over two lab hosts: two labs' sandboxes (four) on each
    ready = client_of(teacher).get(url).data
    assert ready == {"students": 3, "wanted": 8, "ready": 6, "per_lab_host": {"h-a": 2, "h-b": 4}}
    LabHost.objects.filter(name="h-a").update(warm=[{"image": busybox, "size": 8, "ready": 7}])
    assert client_of(teacher).get(url).data["ready"] == 8  # more than enough counts as enough
