"""Warm sandboxes on a real lab host (a Celery worker with a pool): its upkeep fills the pool,
a deploy through the API claims from it, the live state follows the claimed nodes, the
pool refills, a teacher's preparation grows it, and a lab host killed right after claiming
finishes its deploy with no orphan and no sandbox in two places."""

import time

import pytest

from labs import lifecycle, warm
from labs.hostside.engine import this_labhost
from labs.models import Operation
from tests.labs.live_helpers import TWO_ROUTERS, cable, collect, connect, events_of, run_sync
from tests.labs.workers import Worker, lab_on_own_queue, star
from tests.waiting import wait_for
from tests.worker.conftest import leftovers
from topology.document import read_document
from worker import pool
from worker.labels import POOL_PREFIX

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]
IMAGE = "wirelab/node:busybox"
HOSTS = 4
POOL = {"WIRELAB_POOL": f"{IMAGE}={HOSTS}", "WIRELAB_POOL_INTERVAL": "0.5"}


def ready() -> int:
    (row,) = this_labhost().warm_status({IMAGE: 0}, 1000)
    return row["ready"]


def names_of(tag: str) -> dict[str, str]:
    """Node -> container id, as the lab host sees the lab."""
    runtime = this_labhost().runtime()
    try:
        return {info.node: info.id for info in runtime.list_containers(tag)}
    finally:
        runtime.close()


@pytest.fixture
def drained():
    """Its lab host's pool emptied after the test (its worker gone by then), and its files."""
    yield
    this_labhost().drain_warm()
    pool.forget(this_labhost().config)


def test_a_lab_host_killed_after_claiming_finishes_with_no_orphan_nor_double_claim(
    user, labs_made, tmp_path, settings, drained
):
    lab, queue = lab_on_own_queue(user, labs_made, HOSTS, "warm", settings)
    with Worker(queue, tmp_path / "worker.log", env=POOL) as worker:
        wait_for(lambda: ready() == HOSTS, 120, "the pool to fill")
        members = {m.id for m in this_labhost().runtime().pool_members()}
        op = lifecycle.request_deploy(lab, user)
        wait_for(lambda: "claimed" in Operation.objects.get(id=op.id).log, 90, "the claim")
        worker.kill()
        worker.restart()
        wait_for(lambda: Operation.objects.get(id=op.id).done, 120, "the deploy to finish after the restart")
        op.refresh_from_db()
        lab.refresh_from_db()
        assert op.status == "succeeded" and lab.status == "running", op.log
        assert f"claimed {HOSTS} warm sandbox(es)" in op.log

        nodes = names_of(lab.tag)
        assert set(nodes) == {f"h{i}" for i in range(HOSTS)}
        assert set(nodes.values()) == members  # each member in exactly one node, each node one member
        # the pool fills again with new members, none of them the lab's
        wait_for(lambda: ready() == HOSTS, 120, "the pool to refill")
        again = {m.id for m in this_labhost().runtime().pool_members()}
        assert not again & members and all(
            m.name.startswith(POOL_PREFIX) for m in this_labhost().runtime().pool_members()
        )

        destroy = lifecycle.request_destroy(lab, user)
        wait_for(lambda: Operation.objects.get(id=destroy.id).done, 120, "the destroy")
    assert leftovers(lab.tag) == []
    assert ready() == HOSTS  # destroying gives nothing back


def test_a_teacher_prepares_a_class_and_the_pool_grows(user, labs_made, tmp_path, settings, drained):
    lab, queue = lab_on_own_queue(user, labs_made, HOSTS, "class", settings)
    with Worker(queue, tmp_path / "worker.log", env=POOL):
        wait_for(lambda: ready() == HOSTS, 120, "the pool to fill")
        asked = warm.prepare(read_document(star(HOSTS, "class")), students=3)
        assert asked["lab_hosts"] == [queue] and asked["per_lab_host"] == {IMAGE: 3 * HOSTS}
        wait_for(lambda: ready() == 3 * HOSTS, 180, "the prepared sandboxes")
        # the first student's lab uses up a third of the preparation: the pool keeps the rest
        deploy = lifecycle.request_deploy(lab, user)
        wait_for(lambda: Operation.objects.get(id=deploy.id).done, 120, "the deploy")
        assert f"claimed {HOSTS} warm sandbox(es)" in Operation.objects.get(id=deploy.id).log
        assert set(names_of(lab.tag)) == {f"h{i}" for i in range(HOSTS)}
        time.sleep(3)  # six rounds of upkeep, which must not start the whole class again
        assert ready() == 2 * HOSTS
        destroy = lifecycle.request_destroy(lab, user)
        wait_for(lambda: Operation.objects.get(id=destroy.id).done, 120, "the destroy")


@pytest.mark.asyncio
async def test_the_live_state_follows_claimed_sandboxes(monitor, labs_up, user, drained):
    """The monitor learns of a claimed sandbox from its rename (no container starts), watches
    its namespace, and a pulled cable reaches the browser as for any node."""
    await run_sync(this_labhost().keep_warm, {IMAGE: 2}, 10)
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    log = await run_sync(lambda: lab.operations.order_by("-id").first().log)
    assert "claimed 2 warm sandbox(es)" in log
    ws = await connect(f"/ws/labs/{lab.id}/", user)
    assert (await ws.connect())[0]
    snapshot = await ws.receive_json_from(timeout=30)
    states = {n: s["state"] for n, s in snapshot["nodes"].items()}
    links = {(k.split(":")[0], v.get("oper")) for k, v in snapshot["links"].items() if k.endswith(":eth1")}

    def seen(messages):
        for e in events_of(messages, "node.state"):
            states[e["node"]] = e["state"]
        links.update(
            (e["node"], e["oper"]) for e in events_of(messages, "link.state") if e["iface"] == "eth1"
        )
        return states == {"a": "running", "b": "running"} and {("a", "up"), ("b", "up")} <= links

    await collect(ws, seen, 30)
    await run_sync(cable, lab.id, [["a", "eth1"], ["b", "eth1"]], False)

    def down(messages):
        return {
            (e["node"], e["oper"]) for e in events_of(messages, "link.state") if e["iface"] == "eth1"
        } >= {
            ("a", "down"),
            ("b", "down"),
        }

    await collect(ws, down, 30)
    await ws.disconnect()
