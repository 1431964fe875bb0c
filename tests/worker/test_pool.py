"""Warm sandboxes against the real Docker engine and kernel: a deploy that claims them builds the
same lab as a cold one; a member is claimed once, by one lab, and never comes back; a crash
between the claim's two steps leaves nothing behind; the pool refills."""

import threading
from dataclasses import replace

import docker
import pytest

from tests.conftest import DEMOS
from tests.worker.conftest import CONFIG, leftovers, new_tag
from topology.compiler import compile_lab
from topology.document import read_document
from worker import gc, pool
from worker.converge import converge, destroy
from worker.docker_runtime import DockerRuntime
from worker.labels import POOL_PREFIX, container_name
from worker.runtime import lab_tags

pytestmark = pytest.mark.kernel

POOLED = replace(CONFIG, pool=True)
IMAGE = "wirelab/node:busybox"
DOCKER_MODES = (DEMOS / "docker-modes.yaml").read_text()
ROUTED = (DEMOS / "routed.yaml").read_text()
ROUTER = "wirelab: 1\nname: one-router\nnodes:\n  r9: {kind: router}\n"


@pytest.fixture
def runtime():
    """The engine's runtime; every warm sandbox is drained afterwards, even when a test fails."""
    made = DockerRuntime(POOLED)
    pool.drain(made, POOLED)
    yield made
    pool.drain(made, POOLED)
    pool.forget(POOLED)
    made.close()


def fill(runtime, size: int) -> None:
    pool.refill(runtime, POOLED, [pool.Target(IMAGE, size)], batch=size)
    assert len(ready(runtime)) == size


def ready(runtime) -> list:
    return [m for m in runtime.pool_members(pool.pool_of(IMAGE)) if m.running]


END = "-- end of the fact --"


def facts(run_in, tag: str, node: str) -> dict:
    """What a student sees of a node from inside it (no MACs: those differ between any two labs)."""
    commands = {
        "hostname": "hostname; cat /etc/hostname",
        "addresses": "ip -o -4 addr | awk '{print $2, $4}'",
        "routes": "ip route",
        "links": "ip -o link | awk '{print $2, $3}' | sed 's/@[^:]*//'",
        "forwarding": "cat /proc/sys/net/ipv4/ip_forward",
        "capabilities": "grep CapEff /proc/self/status",
    }
    return {key: read_fact(run_in, tag, node, command) for key, command in commands.items()}


def read_fact(run_in, tag: str, node: str, command: str) -> tuple[int, str]:
    """A read-only command's exit code and output. A busy Docker engine now and then loses an
    exec's output ("error copying stdout" in its log): the end mark tells a lost reading from
    an empty answer, and a lost one is read again."""
    for _ in range(5):
        code, output = run_in(tag, node, f"{command}; code=$?; echo '{END}'; exit $code")
        if output.endswith(f"{END}\n"):
            return code, output.removesuffix(f"{END}\n")
    raise AssertionError(f"the engine lost every reading of `{command}` on {node}")


def test_a_pooled_lab_is_the_same_lab_as_a_cold_one(engine, run_in, runtime):
    fill(runtime, 3)
    cold = engine(ROUTED)
    warm = engine(ROUTED, config=POOLED)
    claimed = sorted(c.split(":")[0] for c in warm.report.changes if "claimed from the warm pool" in c)
    assert claimed == ["h1", "h2", "r1"]
    assert not any("claimed" in c for c in cold.report.changes)
    assert ready(runtime) == []

    for node in ("h1", "h2", "r1"):
        assert facts(run_in, warm.tag, node) == facts(run_in, cold.tag, node), node
    assert read_fact(run_in, warm.tag, "h1", "hostname")[1].strip() == "h1"
    assert read_fact(run_in, warm.tag, "r1", "cat /proc/sys/net/ipv4/ip_forward")[1].strip() == "1"
    code, trace = read_fact(run_in, warm.tag, "h1", "traceroute -n -w 1 -q 1 198.18.2.10 2>&1")
    assert code == 0 and "198.18.1.1" in trace, trace
    assert {n: s.state for n, s in warm.report.nodes.items()} == {
        n: s.state for n, s in cold.report.nodes.items()
    }

    # the lab owns them now, by name, with what they were made for recorded
    owned = {info.node: info for info in runtime.list_containers(warm.tag)}
    assert set(owned) == {"h1", "h2", "r1"} and all(info.pooled and info.spec_hash for info in owned.values())
    assert engine(ROUTED, tag=warm.tag, previous=warm.assignments, config=POOLED).report.changes == []


def test_docker_modes_from_the_pool_keeps_its_reachability_matrix(engine, run_in, runtime):
    from tests.worker.test_engine import assert_docker_modes_matrix

    fill(runtime, 3)
    lab = engine(DOCKER_MODES, config=POOLED)
    # h1 and h2 hold host-mode apps, which take their host's hostname when made: those start cold
    assert [c for c in lab.report.changes if "claimed" in c] == ["client: sandbox claimed from the warm pool"]
    assert_docker_modes_matrix(run_in, lab)


def test_two_deploys_at_once_never_claim_the_same_sandbox(runtime):
    fill(runtime, 5)
    text = "wirelab: 1\nname: pooled\nnodes:\n" + "".join(f"  n{i}: {{kind: host}}\n" for i in range(4))
    tags = [new_tag(), new_tag()]
    reports = {}
    try:

        def deploy(tag: str) -> None:
            try:
                specs, _ = compile_lab(read_document(text), tag, "local")
                reports[tag] = converge(specs["local"], POOLED)
            except Exception as exc:  # told by the assertion below
                reports[tag] = exc

        threads = [threading.Thread(target=deploy, args=(tag,)) for tag in tags]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(not isinstance(r, Exception) for r in reports.values()), reports
        owned = {tag: {info.id for info in runtime.list_containers(tag)} for tag in tags}
        assert all(len(ids) == 4 for ids in owned.values()), owned
        assert not owned[tags[0]] & owned[tags[1]]
        claims = sum(sum("claimed" in c for c in reports[tag].changes) for tag in tags)
        assert claims == 5  # every member taken once; the other three nodes started cold
        assert ready(runtime) == []
        for tag in tags:
            assert all(s.state == "running" for s in reports[tag].nodes.values())
    finally:
        for tag in tags:
            destroy(tag, "local", config=POOLED)
    # used once, then removed: destroying gives nothing back to the pool
    assert [left for tag in tags for left in leftovers(tag)] == []
    assert ready(runtime) == []


def test_a_claim_cut_short_leaves_no_orphan_and_no_double_claim(runtime):
    """A lab host that died between renaming a member and recording the claim: the member is
    the lab's by its name; the next converge replaces it, and garbage collection of a lab that
    no longer exists removes it, while the rest of the pool stays the pool's."""
    fill(runtime, 2)
    tag = new_tag()
    first, second = ready(runtime)
    runtime.rename(first.id, container_name(tag, "h1"))  # the crash: no claim record written
    try:
        (info,) = runtime.list_containers(tag)
        assert info.pooled and info.node == "h1" and info.spec_hash == ""
        assert [m.id for m in ready(runtime)] == [second.id]

        specs, _ = compile_lab(
            read_document("wirelab: 1\nname: cut\nnodes:\n  h1: {kind: host}\n"), tag, "local"
        )
        report = converge(specs["local"], POOLED)
        (now,) = runtime.list_containers(tag)
        assert now.id == second.id and now.spec_hash  # the unrecorded one replaced, by the next member
        assert "h1: sandbox container removed" in report.changes
        assert docker.from_env().api.containers(all=True, filters={"id": first.id}) == []

        others = lab_tags(runtime) - {tag}  # only this lab is unknown: the rest is not the test's
        assert gc.collect(others, "local", POOLED, runtime) == [tag]
        assert leftovers(tag) == []
    finally:
        destroy(tag, "local", config=POOLED)


def test_a_restarted_claimed_sandbox_gets_its_hostname_back(engine, run_in, runtime):
    fill(runtime, 1)
    lab = engine(ROUTER, config=POOLED)
    (info,) = runtime.list_containers(lab.tag)
    runtime.restart(info.id)  # Docker starts it with the pool's hostname and no forwarding
    assert run_in(lab.tag, "r9", "hostname")[1].strip() != "r9"
    again = engine(ROUTER, tag=lab.tag, config=POOLED)
    assert again.report.nodes["r9"].state == "running"
    assert run_in(lab.tag, "r9", "hostname; cat /etc/hostname; cat /proc/sys/net/ipv4/ip_forward")[
        1
    ].split() == [
        "r9",
        "r9",
        "1",
    ]


def test_the_pool_refills_and_sheds_what_it_no_longer_wants(runtime):
    fill(runtime, 3)
    other = pool.Target(IMAGE, 0)
    (extra,) = [m for m in ready(runtime)][:1]
    runtime.stop(extra.id)  # an exited member is never claimed, and replaced
    done = pool.refill(runtime, POOLED, [pool.Target(IMAGE, 3)], batch=10)
    assert done == {"removed": 1, "started": 1}
    assert extra.id not in {m.id for m in ready(runtime)} and len(ready(runtime)) == 3

    done = pool.refill(runtime, POOLED, [pool.Target(IMAGE, 1)], batch=10)  # shrunk
    assert done == {"removed": 2, "started": 0} and len(ready(runtime)) == 1
    done = pool.refill(runtime, POOLED, [other], batch=10)  # nobody wants it any more
    assert done["removed"] == 1 and ready(runtime) == []

    # a batch bounds one round; the next rounds finish the work
    assert pool.refill(runtime, POOLED, [pool.Target(IMAGE, 5)], batch=2)["started"] == 2
    assert pool.refill(runtime, POOLED, [pool.Target(IMAGE, 5)], batch=2)["started"] == 2
    assert pool.refill(runtime, POOLED, [pool.Target(IMAGE, 5)], batch=2)["started"] == 1
    assert all(m.name.startswith(POOL_PREFIX) for m in ready(runtime)) and len(ready(runtime)) == 5
    assert pool.status(runtime, POOLED, [pool.Target(IMAGE, 5)]) == [{"image": IMAGE, "size": 5, "ready": 5}]


def test_members_of_an_image_since_rebuilt_are_never_claimed_and_are_replaced(runtime):
    """Rebuilding a node image (a new recipe) leaves the pool's members on the old one: they
    must not become a lab's nodes, and the next round of upkeep replaces them."""
    client = docker.from_env()
    name = f"wltest/pool:{new_tag()}"
    base = client.images.get(IMAGE)
    base.tag(name)
    made = None
    try:
        pool.refill(runtime, POOLED, [pool.Target(name, 2)], batch=2)
        old = {m.id for m in runtime.pool_members(pool.pool_of(name))}
        assert len(old) == 2
        made = client.containers.create(IMAGE)  # not started: its image's command stays /bin/sh
        repository, version = name.split(":")
        assert made.commit(repository=repository, tag=version).id != base.id  # the image, rebuilt

        tag = new_tag()
        text = f"wirelab: 1\nname: rebuilt\nnodes:\n  h1: {{kind: host, image: '{name}'}}\n"
        specs, _ = compile_lab(read_document(text), tag, "local")
        try:
            report = converge(specs["local"], POOLED)
            assert not any("claimed" in c for c in report.changes)  # started cold, on the new image
            assert report.nodes["h1"].state == "running"
        finally:
            destroy(tag, "local", config=POOLED)
        done = pool.refill(runtime, POOLED, [pool.Target(name, 2)], batch=2)
        assert done == {"removed": 2, "started": 2}
        assert not old & {m.id for m in runtime.pool_members(pool.pool_of(name))}
    finally:
        pool.drain(runtime, POOLED)
        if made is not None:
            made.remove(force=True)
        client.images.remove(name, force=True)
        client.close()
