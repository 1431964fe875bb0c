"""The life cycle on the Django side, with the real engine: operations, statuses, the API,
and a worker killed in the middle of a deploy."""

import os
import signal
import time
import uuid

import docker
import pytest
from django.db import connection

from labs import lifecycle
from labs.hostside.jobs import carry_out
from labs.models import Lab, Operation
from labs.services import import_lab
from tests.processes import start_worker
from tests.worker.conftest import leftovers
from topology.problems import TopologyError
from worker.converge import destroy

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def labs_made():
    """Labs created by a test; their lab host objects are destroyed afterwards, by tag."""
    made: list[Lab] = []
    yield made
    for lab in made:
        destroy(lab.uid, lab.labhost)
        assert leftovers(lab.uid) == []


def star(n: int, name: str) -> str:
    hosts = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return f"name: {name}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.0.0/24}}\nnodes:\n{hosts}"


def test_deploy_and_destroy_in_process(user, demo_text, labs_made):
    lab, _ = import_lab(demo_text("docker-modes"), user)
    labs_made.append(lab)
    op = lifecycle.request_deploy(lab, user, enqueue=False)
    assert Lab.objects.get(id=lab.id).status == "deploying"
    lines = []
    op = carry_out(op.id, progress=lines.append)
    lab.refresh_from_db()
    assert op.status == "succeeded" and op.started and op.finished
    assert lab.status == "degraded"
    assert "nginx-1b" in lab.status_reason and "Address already in use" in lab.status_reason
    assert op.result["nodes"]["nginx-2"]["state"] == "running"
    assert "started 7/7" in op.log and lines[-1].startswith("done:")

    again = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    assert again.result["changes"] == []

    gone = carry_out(lifecycle.request_destroy(lab, user, enqueue=False).id)
    lab.refresh_from_db()
    assert (gone.status, lab.status) == ("succeeded", "stopped")
    assert leftovers(lab.uid) == []


def test_a_lab_with_errors_is_not_deployed(user, labs_made):
    lab, _ = import_lab(star(2, "err"), user)
    labs_made.append(lab)
    lab.document["nodes"]["h1"]["kind"] = "container"  # stored before a rule it now breaks
    lab.save(update_fields=["document"])
    with pytest.raises(TopologyError):
        lifecycle.request_deploy(lab, user, enqueue=False)
    assert not Operation.objects.filter(lab=lab).exists()


def test_a_failed_deploy_is_undone_and_says_why(user, labs_made):
    lab, _ = import_lab(star(2, "img"), user)
    labs_made.append(lab)
    lab.document["nodes"]["h1"]["image"] = "wirelab/nope:0"
    lab.save(update_fields=["document"])
    op = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    lab.refresh_from_db()
    assert op.status == "failed"
    assert "wirelab/nope:0 is not on lab host local" in op.error
    assert lab.status == "failed" and "wirelab/nope:0" in lab.status_reason
    assert leftovers(lab.uid) == []


def test_api_deploy_destroy_and_operations(api, user, labs_made, settings):
    lab, _ = import_lab(star(2, "api"), user)
    labs_made.append(lab)
    response = api.post(f"/api/labs/{lab.id}/deploy/")
    assert response.status_code == 202
    op_id = response.json()["id"]
    assert api.post(f"/api/labs/{lab.id}/deploy/").status_code == 409  # busy
    carry_out(op_id)
    assert api.delete(f"/api/labs/{lab.id}/").status_code == 409  # running: destroy first
    ops = api.get(f"/api/labs/{lab.id}/operations/").json()
    assert [(o["kind"], o["status"]) for o in ops] == [("deploy", "succeeded")]
    destroy_op = api.post(f"/api/labs/{lab.id}/destroy/").json()
    carry_out(destroy_op["id"])
    assert api.get(f"/api/labs/{lab.id}/").json()["status"] == "stopped"
    assert api.delete(f"/api/labs/{lab.id}/").status_code == 204


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def lab_on_own_queue(user, labs_made, hosts: int, name: str):
    """A star lab whose lab host is a queue of its own (for a worker the test starts and kills)."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs the PostgreSQL database that `make test` provides")
    lab, _ = import_lab(star(hosts, name), user)
    lab.labhost = f"kill-{uuid.uuid4().hex[:6]}"
    lab.save()
    labs_made.append(lab)
    return lab, lab.labhost


def test_worker_killed_mid_deploy_finishes_it_when_restarted(user, labs_made, tmp_path):
    lab, queue = lab_on_own_queue(user, labs_made, 16, "killed")
    worker = start_worker(queue, tmp_path / "worker.log")
    try:
        op = lifecycle.request_deploy(lab, user)
        _wait(lambda: "started 10/16" in Operation.objects.get(id=op.id).log, 60, "the deploy to be half way")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        assert Operation.objects.get(id=op.id).status == "running"
        worker = start_worker(queue, tmp_path / "worker.log")
        _wait(lambda: Operation.objects.get(id=op.id).done, 90, "the deploy to finish after the restart")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    op.refresh_from_db()
    lab.refresh_from_db()
    assert op.status == "succeeded", op.log
    assert "resuming after the lab host's worker stopped" in op.log
    assert lab.status == "running"
    client = docker.from_env()
    try:
        names = sorted(
            c.name for c in client.containers.list(all=True, filters={"label": f"wirelab.lab={lab.uid}"})
        )
    finally:
        client.close()
    assert names == sorted(f"wl-{lab.uid}-h{i}" for i in range(16))


def test_worker_killed_mid_destroy_finishes_it_when_restarted(user, labs_made, tmp_path):
    lab, queue = lab_on_own_queue(user, labs_made, 30, "killed-destroy")
    assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    worker = start_worker(queue, tmp_path / "worker.log")
    try:
        op = lifecycle.request_destroy(lab, user)
        _wait(lambda: "removing" in Operation.objects.get(id=op.id).log, 60, "the destroy to start removing")
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        interrupted = Operation.objects.get(id=op.id).status == "running"
        worker = start_worker(queue, tmp_path / "worker.log")
        _wait(lambda: Operation.objects.get(id=op.id).done, 90, "the destroy to finish after the restart")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    op.refresh_from_db()
    lab.refresh_from_db()
    assert op.status == "succeeded", op.log
    if interrupted:  # nearly always: 30 removals take longer than noticing the first
        assert "resuming after the lab host's worker stopped" in op.log
    assert lab.status == "stopped"
    assert leftovers(lab.uid) == []
