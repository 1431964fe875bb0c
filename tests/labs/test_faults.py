"""Faults in the middle of the work: a lab-host worker killed with SIGKILL at five points of a
deploy and of a destroy, and the database, Redis or the Docker engine away for ten seconds in
the middle of a deploy. Each ends with the lab in a truthful state and nothing leaked.

Services are cut with `tests.faults.Outage`, a forwarder between the worker and the real
service, so that the service the rest of the suite shares keeps running.
"""

import re
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings

from labs import lifecycle
from labs.hostside.jobs import carry_out
from labs.models import Operation
from tests.faults import Outage
from tests.labs.workers import Worker, containers_of, lab_on_own_queue
from tests.processes import shared_database_url
from tests.waiting import wait_for
from tests.worker.conftest import leftovers

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]
HOSTS = 16
NODES = {f"h{i}" for i in range(HOSTS)}


def op_now(op: Operation) -> Operation:
    return Operation.objects.get(id=op.id)


def logged(op: Operation, marker: str):
    return lambda: marker in op_now(op).log


def assert_truthful(lab, op: Operation) -> None:
    """The lab's status says what the Docker engine holds."""
    lab.refresh_from_db()
    op.refresh_from_db()
    held = containers_of(lab.tag)
    assert op.done, op.log
    if op.status == "succeeded":
        running = {node for node, status in held.items() if status == "running"}
        assert lab.status in ("running", "degraded"), (lab.status, lab.status_reason)
        if lab.status == "running":
            assert running == NODES and len(held) == HOSTS, held
        for node in NODES - running:
            assert re.search(rf"\b{node}:", lab.status_reason), (node, lab.status_reason)
    else:
        assert lab.status == "failed" and lab.status_reason, (lab.status, op.log)
        assert held == {} or "could not undo" in op.log, (held, op.log)


# Killed with SIGKILL ----------------------------------------------------------------------

DEPLOY_POINTS = {
    "before creating": "starting 16 container(s)",
    "creating": "started 10/16",
    "after creating": "started 16/16",
    "after wiring": "wired ",
    "before recording": "done:",
}


@pytest.mark.parametrize("point", DEPLOY_POINTS)
def test_worker_killed_during_a_deploy_finishes_it_when_restarted(point, user, labs_made, tmp_path, settings):
    lab, queue = lab_on_own_queue(user, labs_made, HOSTS, "killed", settings)
    with Worker(queue, tmp_path / "worker.log") as worker:
        op = lifecycle.request_deploy(lab, user)
        wait_for(logged(op, DEPLOY_POINTS[point]), 90, f"the deploy to reach '{point}'")
        worker.kill()
        interrupted = op_now(op).status == "running"
        worker.restart()
        wait_for(lambda: op_now(op).done, 120, "the deploy to finish after the restart")
    op.refresh_from_db()
    assert op.status == "succeeded", op.log
    if interrupted:  # unless the outcome was written between seeing the point and the kill
        assert "resuming after the lab host's worker stopped" in op.log
    assert_truthful(lab, op)
    assert lab.status == "running"


DESTROY_POINTS = {
    "taken up": lambda lab, op: lambda: op_now(op).status == "running",
    "removing": lambda lab, op: logged(op, "removing"),
    "half removed": lambda lab, op: lambda: len(containers_of(lab.tag)) <= HOSTS // 2,
    "containers removed": lambda lab, op: lambda: not containers_of(lab.tag),
    "before recording": lambda lab, op: logged(op, "done:"),
}


@pytest.mark.parametrize("point", DESTROY_POINTS)
def test_worker_killed_during_a_destroy_finishes_it_when_restarted(
    point, user, labs_made, tmp_path, settings
):
    lab, queue = lab_on_own_queue(user, labs_made, HOSTS, "killed-destroy", settings)
    assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    with Worker(queue, tmp_path / "worker.log") as worker:
        op = lifecycle.request_destroy(lab, user)
        wait_for(DESTROY_POINTS[point](lab, op), 90, f"the destroy to reach '{point}'")
        worker.kill()
        interrupted = op_now(op).status == "running"
        worker.restart()
        wait_for(lambda: op_now(op).done, 120, "the destroy to finish after the restart")
    op.refresh_from_db()
    lab.refresh_from_db()
    assert op.status == "succeeded", op.log
    if interrupted:
        assert "resuming after the lab host's worker stopped" in op.log
    assert lab.status == "stopped"
    assert leftovers(lab.tag) == []


# A service away for ten seconds -------------------------------------------------------------


def _with_address(url: str, address: str) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{credentials}@{address}" if credentials else address))


def _outage(service: str, tmp_path) -> tuple[Outage, dict]:
    """A forwarder to the service and the worker environment that goes through it."""
    if service == "database":
        url = shared_database_url()
        parts = urlsplit(url)
        outage = Outage((parts.hostname, parts.port or 5432))
        return outage, {"DATABASE_URL": _with_address(url, outage.address)}
    if service == "redis":
        parts = urlsplit(settings.REDIS_URL)
        outage = Outage((parts.hostname, parts.port or 6379))
        url = _with_address(settings.REDIS_URL, outage.address)
        return outage, {"REDIS_URL": url, "CELERY_BROKER_URL": url}
    outage = Outage("/var/run/docker.sock", unix_path=tmp_path / "docker.sock")
    return outage, {"DOCKER_HOST": f"unix://{outage.address}"}


@pytest.mark.parametrize("service", ["database", "redis", "docker"])
def test_a_service_away_for_ten_seconds_mid_deploy_ends_truthfully(
    service, user, labs_made, tmp_path, settings
):
    lab, queue = lab_on_own_queue(user, labs_made, HOSTS, f"away-{service}", settings)
    outage, env = _outage(service, tmp_path)
    try:
        with Worker(queue, tmp_path / "worker.log", env=env):
            op = lifecycle.request_deploy(lab, user)
            wait_for(logged(op, "started 10/16"), 90, "the deploy to be half way")
            outage.cut()
            time.sleep(10)
            outage.restore()
            wait_for(lambda: op_now(op).done, 180, "the deploy to end after the outage")
    finally:
        outage.close()
    assert_truthful(lab, op)
    if service != "docker":  # the engine's work does not need them: the deploy itself succeeds
        assert op.status == "succeeded" and lab.status == "running", op.log
    gone = carry_out(lifecycle.request_destroy(lab, user, enqueue=False).id)
    assert gone.status == "succeeded", gone.log
    assert leftovers(lab.tag) == []


# A destroy does not wait for a slow deploy -------------------------------------------------


def test_a_destroy_stops_a_deploy_still_at_work(user, labs_made, tmp_path, settings):
    lab, queue = lab_on_own_queue(user, labs_made, 12, "preempted", settings)
    for node in lab.document["nodes"].values():
        node["exec"] = ["sleep 3"]  # twelve of them, four at a time: a slow start
    lab.save(update_fields=["document"])
    with Worker(queue, tmp_path / "worker.log"):
        deploy = lifecycle.request_deploy(lab, user)
        wait_for(logged(deploy, "wired "), 90, "the deploy to reach its startup commands")
        destroy = lifecycle.request_destroy(lab, user)
        wait_for(lambda: op_now(destroy).done, 120, "the destroy to end")
    deploy.refresh_from_db()
    destroy.refresh_from_db()
    lab.refresh_from_db()
    assert deploy.status == "failed" and deploy.error == "stopped: a destroy of the lab was asked for"
    assert destroy.status == "succeeded", destroy.log
    assert lab.status == "stopped"
    assert leftovers(lab.tag) == []
