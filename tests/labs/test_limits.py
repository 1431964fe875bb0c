"""Per-user limits: quotas on running labs and nodes, controls and captures in flight,
consoles, snapshot floods and sign-in guessing; and a queue that cannot be reached."""

import pytest

from labs import controls, lifecycle, queues
from labs.labfiles import import_lab
from labs.models import Capture, Lab, Operation
from tests.labs.live_helpers import connect

pytestmark = pytest.mark.django_db

TWO = "name: {name}\nnodes:\n  a: {{kind: router}}\n  b: {{kind: router}}\nlinks:\n  - {{endpoints: [a:eth1, b:eth1]}}\n"


def running(user, name: str) -> Lab:
    lab, _ = import_lab(TWO.format(name=name), user)
    Lab.objects.filter(id=lab.id).update(status="running")
    lab.refresh_from_db()
    return lab


def test_a_deploy_past_the_running_labs_quota_is_refused_with_a_429(api, user, settings):
    settings.WIRELAB_QUOTA_RUNNING_LABS = 1
    running(user, "one")
    second, _ = import_lab(TWO.format(name="two"), user)
    response = api.post(f"/api/labs/{second.id}/deploy/")
    assert response.status_code == 429
    assert "may have 1" in response.json()["detail"]
    assert not Operation.objects.filter(lab=second).exists()


def test_the_node_quota_counts_every_running_lab(user, settings):
    settings.WIRELAB_QUOTA_NODES = 3
    running(user, "one")
    second, _ = import_lab(TWO.format(name="two"), user)
    with pytest.raises(lifecycle.LimitReached, match="4 nodes"):
        lifecycle.request_deploy(second, user, enqueue=False)


def test_the_node_quota_counts_an_orchestrators_instances(user, settings):
    settings.WIRELAB_QUOTA_NODES = 6
    text = (
        "name: apps\nnodes:\n  h1: {kind: host}\norchestrator: {agents: [h1]}\napps:\n"
        "  web: {instances: 6, image: wirelab/node:busybox, ports: [auto]}\n"
    )
    lab, _ = import_lab(text, user)
    with pytest.raises(lifecycle.LimitReached, match="7 nodes"):  # h1 and six instances
        lifecycle.request_deploy(lab, user, enqueue=False)


def test_staff_have_no_quota(admin_user, settings):
    settings.WIRELAB_QUOTA_RUNNING_LABS = 0
    lab, _ = import_lab(TWO.format(name="staff"), admin_user)
    assert lifecycle.request_deploy(lab, admin_user, enqueue=False).kind == "deploy"


def test_controls_in_flight_are_limited_per_user(api, user, settings):
    settings.WIRELAB_MAX_JOBS_IN_FLIGHT = 2
    lab = running(user, "busy")
    for _ in range(2):
        controls.request_cable(lab, [("a", "eth1")], False, user=user)
    response = api.post(
        f"/api/labs/{lab.id}/cable/", {"node": "a", "iface": "eth1", "plugged": True}, format="json"
    )
    assert response.status_code == 429
    Operation.objects.filter(lab=lab).update(status="succeeded")
    again = api.post(
        f"/api/labs/{lab.id}/cable/", {"node": "a", "iface": "eth1", "plugged": True}, format="json"
    )
    assert again.status_code == 202


def test_captures_in_flight_are_limited_per_user(api, user, settings):
    settings.WIRELAB_MAX_CAPTURES_IN_FLIGHT = 1
    lab = running(user, "cap")
    first = api.post(
        f"/api/labs/{lab.id}/captures/", {"node": "a", "iface": "eth1", "seconds": 5}, format="json"
    )
    assert first.status_code == 202
    second = api.post(
        f"/api/labs/{lab.id}/captures/", {"node": "b", "iface": "eth1", "seconds": 5}, format="json"
    )
    assert second.status_code == 429
    assert Capture.objects.filter(lab=lab).count() == 1


def test_a_job_whose_queue_cannot_be_reached_ends_failed_not_queued(user, monkeypatch):
    from celery import current_app

    lab, _ = import_lab(TWO.format(name="nobroker"), user)
    op = lifecycle.request_deploy(lab, user, enqueue=False)

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr(current_app, "send_task", broker_down)
    lifecycle.enqueue_operation(op.id, lab.labhost)
    op.refresh_from_db()
    lab.refresh_from_db()
    assert op.status == "failed" and "could not be reached" in op.error
    assert lab.status == "failed"
    assert lifecycle.busy_with(lab) is None  # a later deploy is not blocked


@pytest.mark.django_db(transaction=True)  # jobs are sent when their row is committed
def test_commands_and_captures_wait_on_the_slow_queue_not_before_deploys(user, monkeypatch):
    from celery import current_app

    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, **kw: sent.append((name, kw["queue"])))
    lab = running(user, "queues")
    controls.request_exec(lab, "a", ["true"], user=user)
    controls.request_capture(lab, "a", "eth1", 5, 100_000)
    controls.request_trace(lab, "a", {"target": "198.18.0.1", "protocol": "icmp"}, user=user)
    controls.request_cable(lab, [("a", "eth1")], False, user)
    Lab.objects.filter(id=lab.id).update(status="stopped")
    lifecycle.request_deploy(lab, user)
    assert sent == [
        (queues.RUN_OPERATION, f"{lab.labhost}.slow"),
        (queues.RUN_CAPTURE, f"{lab.labhost}.slow"),
        (queues.RUN_OPERATION, f"{lab.labhost}.slow"),
        (queues.RUN_OPERATION, lab.labhost),
        (queues.RUN_OPERATION, lab.labhost),
    ]


def test_sign_in_guessing_is_slowed(client, user):
    for _ in range(8):
        assert client.post("/accounts/login/", {"username": "alice", "password": "wrong"}).status_code == 200
    blocked = client.post("/accounts/login/", {"username": "alice", "password": "pw-alice-1"})
    assert blocked.status_code == 429
    assert client.post("/accounts/login/", {"username": "bob", "password": "x"}).status_code == 200


async def _socket(path, user):
    return await connect(path, user)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_consoles_per_user_are_capped(user, settings):
    from asgiref.sync import sync_to_async

    settings.WIRELAB_MAX_CONSOLES_PER_USER = 1
    lab = await sync_to_async(running)(user, "consoles")
    first = await _socket(f"/ws/labs/{lab.id}/nodes/a/console/", user)
    assert (await first.connect())[0]
    second = await _socket(f"/ws/labs/{lab.id}/nodes/b/console/", user)
    assert (await second.connect())[0]
    refused = await second.receive_json_from(timeout=10)
    assert "consoles open" in refused["message"]
    assert (await second.receive_output(timeout=10)) == {"type": "websocket.close", "code": 4429}
    await second.disconnect()
    await first.disconnect()
    third = await _socket(f"/ws/labs/{lab.id}/nodes/b/console/", user)
    assert (await third.connect())[0]
    assert await third.receive_nothing(timeout=0.5)  # a slot was given back: no refusal
    await third.disconnect()


@pytest.mark.kernel  # the snapshot is read from Redis
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_snapshot_floods_are_not_answered(user, monkeypatch):
    from asgiref.sync import sync_to_async

    from labs.consumers import LabConsumer

    monkeypatch.setattr(LabConsumer, "SNAPSHOT_INTERVAL", 3600)
    lab = await sync_to_async(running)(user, "flood")
    ws = await _socket(f"/ws/labs/{lab.id}/", user)
    assert (await ws.connect())[0]
    assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"  # the one on join
    for _ in range(20):
        await ws.send_json_to({"type": "snapshot"})
    assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"  # the first request
    assert await ws.receive_nothing(timeout=0.5)  # the other nineteen wait, merged, for the interval
    await ws.disconnect()


def test_one_users_snapshots_share_one_budget_over_all_their_sockets():
    from labs.consumers import SnapshotBudget

    budget = SnapshotBudget(per_second=2)
    assert budget.wait_for(1, now=100.0) == 0  # alice's first socket
    assert budget.wait_for(1, now=100.0) == 0.5  # her second waits its turn
    assert budget.wait_for(1, now=100.1) == pytest.approx(0.9)
    assert budget.wait_for(2, now=100.1) == 0  # bob is not behind her
    assert budget.wait_for(1, now=200.0) == 0  # a turn long passed is not owed


def test_a_user_with_their_share_of_workers_busy_waits_their_turn(user, other_user, settings):
    from labs.hostside.jobs import WaitYourTurn, carry_out

    settings.WIRELAB_LABHOST_JOBS_PER_USER = 1
    mine, theirs = running(user, "mine"), running(other_user, "theirs")
    busy = controls.request_cable(mine, [("a", "eth1")], False, user=user)
    Operation.objects.filter(id=busy.id).update(status="running")
    waiting = controls.request_cable(mine, [("a", "eth1")], True, user=user)
    with pytest.raises(WaitYourTurn):
        carry_out(waiting.id)
    assert Operation.objects.get(id=waiting.id).status == "queued"  # still to be done, later
    other = controls.request_cable(theirs, [("a", "eth1")], False, user=other_user)
    assert carry_out(other.id).status != "queued"  # another user's job is taken up meanwhile
    Operation.objects.filter(id=busy.id).update(status="succeeded")
    assert carry_out(waiting.id).status != "queued"  # and hers once her first is done


def test_node_actions_have_a_rate_of_their_own(api, user, settings):
    settings.WIRELAB_MAX_JOBS_IN_FLIGHT = 100  # this limit is not the one tried here
    lab = running(user, "restarts")
    node = lab.nodes.get(name="a")
    answers = [
        api.post(f"/api/nodes/{node.id}/action/", {"action": "restart"}, format="json") for _ in range(13)
    ]
    assert [a.status_code for a in answers] == [202] * 12 + [429]


def test_a_job_whose_row_is_gone_is_dropped_quietly():
    from labs.tasks import run_capture, run_operation

    assert run_operation.run(987654) == "gone"
    assert run_capture.run(987654) == "gone"


def test_each_kind_of_job_has_its_queue_and_one_user_never_takes_a_whole_pool():
    from labs.hostside.processes import commands

    assert [queues.queue_of("lh", kind) for kind in ("deploy", "exec", "capture", "trace", "check")] == [
        "lh", "lh.slow", "lh.slow", "lh.slow", "lh.grading"
    ]  # fmt: skip
    for kind in Operation.Kind.values:
        pool = queues.THREADS[queues.suffix_of(kind)]
        assert 1 <= queues.share(kind, 2) < pool
        assert queues.share(kind, 100) < pool  # however generous the setting
    started = {part[part.index("-Q") + 1]: part for part in commands("lh").values() if "-Q" in part}
    assert set(started) == set(queues.queues_of("lh"))
    for queue, part in started.items():
        suffix = queue[len("lh") :]
        assert part[part.index("--concurrency") + 1] == str(queues.THREADS[suffix])


def test_a_trace_with_a_timeout_that_is_not_a_number_is_refused_by_name(api, user):
    lab = running(user, "nan")
    for bad in ("nan", "NaN", "inf"):
        response = api.post(
            f"/api/labs/{lab.id}/trace/", {"node": "a", "target": "198.18.0.1", "timeout": bad}, format="json"
        )
        assert response.status_code == 400, response.content
        assert "timeout" in str(response.json())
    assert not Operation.objects.filter(lab=lab, kind="trace").exists()


def test_throttles_count_the_connections_address_not_a_forwarded_one(settings):
    from rest_framework.test import APIRequestFactory

    from labs.api.sharing import ShareUseThrottle

    request = APIRequestFactory().get(
        "/api/shared/", HTTP_X_FORWARDED_FOR="203.0.113.9", REMOTE_ADDR="10.1.2.3"
    )
    assert ShareUseThrottle().get_ident(request) == "10.1.2.3"
