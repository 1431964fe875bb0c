"""The converge's container steps against the in-memory runtime: what is made, kept and
replaced, with no container engine and no privileges."""

from topology.compiler import compile_lab
from topology.document import read_document
from worker.config import EngineConfig
from worker.converge import _Converge
from worker.fake_runtime import FakeRuntime
from worker.runtime import Role, node_container, node_state

LAB = """
name: plan
nodes:
  h1: {kind: host}
  r1: {kind: router}
  web: {kind: container, host: h1, image: wirelab/node:busybox, mode: bridge, ports: ['8080:80']}
  quiet: {kind: container, host: h1, image: wirelab/node:busybox, mode: none}
"""


def containers_step(text: str, runtime: FakeRuntime) -> _Converge:
    spec = compile_lab(read_document(text), "fake1", "local")[0]["local"]
    run = _Converge(spec, EngineConfig(), runtime, lambda _: None)
    try:
        existing = runtime.list_containers(spec.lab)
        run.sync_holders(existing)
        run.sync_apps(existing)
    finally:
        run.threads.shutdown()
    return run


def test_first_converge_makes_every_container_with_its_role():
    runtime = FakeRuntime()
    containers_step(LAB, runtime)
    roles = {(c.node, c.role) for c in runtime.list_containers("fake1")}
    assert roles == {
        ("h1", Role.SANDBOX), ("r1", Role.SANDBOX), ("web", Role.NETNS), ("web", Role.APP), ("quiet", Role.APP),
    }  # fmt: skip
    assert node_container(runtime, "fake1", "web").role == Role.APP
    assert node_state(runtime, node_container(runtime, "fake1", "h1")).state == "running"


def test_an_unchanged_lab_makes_and_removes_nothing():
    runtime = FakeRuntime()
    containers_step(LAB, runtime)
    made = list(runtime.created)
    run = containers_step(LAB, runtime)
    assert runtime.created == made and runtime.removed == []
    assert run.report.changes == []


def test_an_edit_replaces_only_the_container_it_changes():
    runtime = FakeRuntime()
    containers_step(LAB, runtime)
    before = {c.node: c.id for c in runtime.list_containers("fake1") if c.role != Role.NETNS}
    containers_step(LAB.replace("mode: none", "mode: none, command: [sleep, '9']"), runtime)
    after = {c.node: c.id for c in runtime.list_containers("fake1") if c.role != Role.NETNS}
    assert runtime.removed == ["wl-fake1-quiet"]
    assert {n for n in before if before[n] != after[n]} == {"quiet"}


def test_a_stopped_node_says_why():
    runtime = FakeRuntime()
    containers_step(LAB, runtime)
    info = node_container(runtime, "fake1", "quiet")
    runtime.stop(info.id)
    info.oom_killed = True
    assert node_state(runtime, info).state == "exited"
    assert node_state(runtime, info).reason == "out of memory"


def test_node_files_reach_the_container_and_only_a_change_of_them_replaces_it():
    runtime = FakeRuntime()
    containers_step(LAB, runtime)
    hashes = {c.name: c.spec_hash for c in runtime.list_containers("fake1")}
    with_files = LAB.replace(
        "r1: {kind: router}", "r1: {kind: router, files: {/etc/frr/frr.conf: 'router ospf'}}"
    )
    with_files = with_files.replace("mode: none}", "mode: none, files: {/www/index.html: hi}}")
    containers_step(with_files, runtime)
    assert runtime.files["wl-fake1-r1"] == {"/etc/frr/frr.conf": "router ospf"}
    assert runtime.files["wl-fake1-quiet"] == {"/www/index.html": "hi"}
    replaced = {c.name for c in runtime.list_containers("fake1") if hashes.get(c.name) != c.spec_hash}
    assert replaced == {"wl-fake1-r1", "wl-fake1-quiet"}  # the others kept their containers


def test_a_file_archive_has_the_files_and_no_folder_entries():
    import io
    import tarfile

    from worker.docker_runtime import file_archive

    with tarfile.open(fileobj=io.BytesIO(file_archive({"/etc/frr/frr.conf": "ospf ünïcode\n"}))) as tar:
        entries = {m.name: m for m in tar.getmembers()}
        assert sorted(entries) == ["etc/frr/frr.conf"]  # Docker makes the missing folders
        assert entries["etc/frr/frr.conf"].mode == 0o644
        assert tar.extractfile("etc/frr/frr.conf").read().decode() == "ospf ünïcode\n"
