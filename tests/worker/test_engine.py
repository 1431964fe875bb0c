"""The engine against the real Docker engine and kernel: the primer's networks, built."""

import json
import subprocess
from dataclasses import replace

import docker
import pytest

from tests.conftest import DEMOS
from tests.worker.conftest import CONFIG, leftovers, new_tag
from topology.compiler import compile_lab
from topology.document import read_document
from topology.problems import TopologyError
from worker import fabric
from worker.converge import converge, destroy
from worker.errors import ImageMissing
from worker.labels import container_name

DOCKER_MODES = (DEMOS / "docker-modes.yaml").read_text()
ROUTED = (DEMOS / "routed.yaml").read_text()

pytestmark = pytest.mark.kernel


def fetch(run_in, tag, node, url):
    code, output = run_in(tag, node, f"timeout 5 wget -qO- {url}")
    return output.strip() if code == 0 else f"failed ({code}): {output.strip()}"


def test_docker_modes_reachability_matrix(engine, run_in):
    assert_docker_modes_matrix(run_in, engine(DOCKER_MODES))


def assert_docker_modes_matrix(run_in, lab, overlay_mtu: int = 1450) -> None:
    """The primer's paths on a deployed docker-modes lab (also its warm deploy, test_pool.py,
    and spread over two lab hosts, test_stitching.py)."""
    tag = lab.tag
    assert fetch(run_in, tag, "client", "http://198.18.0.11:80/") == "nginx-1"
    assert fetch(run_in, tag, "client", "http://198.18.0.11:10000/") == "nginx-2"
    assert fetch(run_in, tag, "client", "http://198.18.0.12:10001/") == "nginx-3"
    # Marathon-style dynamic port: app-dyn listens on $PORT0 from h2's range
    assert fetch(run_in, tag, "client", "http://198.18.0.12:31000/") == "app-dyn"

    clash = lab.report.nodes["nginx-1b"]
    assert clash.state == "failed"
    assert "Address already in use" in clash.reason
    assert {n for n, s in lab.report.nodes.items() if s.state != "running"} == {"nginx-1b"}

    code, output = run_in(tag, "app-1", "ping -c 2 -W 2 198.19.128.3")
    assert code == 0, output
    # full-size frames fit the overlay's MTU: 1422 bytes of payload + 28 of headers = 1450
    code, output = run_in(tag, "app-2", f"ping -c 1 -W 2 -s {overlay_mtu - 28} 198.19.128.2")
    assert code == 0, output

    # masquerade: a bridge-mode container is seen on the LAN with its host's address
    run_in(tag, "client", "httpd -f -v -p 9000 -h /www 2>/tmp/seen & sleep 0.3")
    assert fetch(run_in, tag, "nginx-2", "http://198.18.0.100:9000/") == "wirelab"
    _, seen = run_in(tag, "client", "sleep 0.2; cat /tmp/seen")
    assert "198.18.0.11]:" in seen
    assert "198.19.0." not in seen


def test_routed_lab_forwards_between_lans(engine, run_in):
    lab = engine(ROUTED)
    code, output = run_in(lab.tag, "h1", "ping -c 1 -W 2 198.18.2.10")
    assert code == 0, output
    _, trace = run_in(lab.tag, "h1", "traceroute -n -w 1 -q 1 198.18.2.10 2>&1")
    assert "198.18.1.1" in trace


def test_converging_again_changes_nothing_and_an_edit_only_its_difference(engine):
    lab = engine(DOCKER_MODES)
    assert lab.report.changes
    again = engine(DOCKER_MODES, tag=lab.tag, previous=lab.assignments)
    assert again.report.changes == []

    client = docker.from_env()
    before = {
        c.name: c.id for c in client.containers.list(all=True, filters={"label": f"wirelab.lab={lab.tag}"})
    }
    grown = DOCKER_MODES.replace(
        "  client:", "  extra:\n    kind: host\n    interfaces: {eth0: {network: lan}}\n  client:"
    )
    edited = engine(grown, tag=lab.tag, previous=lab.assignments)
    after = {
        c.name: c.id for c in client.containers.list(all=True, filters={"label": f"wirelab.lab={lab.tag}"})
    }
    client.close()
    assert {k: v for k, v in after.items() if k in before} == before
    assert set(after) - set(before) == {container_name(lab.tag, "extra")}
    (port,) = [w.b.ifname for w in edited.spec.wires if w.a.node == "extra"]
    assert edited.report.changes
    assert all("extra" in change or port in change for change in edited.report.changes), edited.report.changes
    assert edited.assignments.interfaces["extra:eth0"] == "198.18.0.1/24"


def test_converging_again_puts_back_what_was_changed_by_hand(engine, run_in):
    lab = engine(ROUTED)
    pid = docker.from_env().api.inspect_container(container_name(lab.tag, "h1"))["State"]["Pid"]

    def in_h1(*args: str) -> None:
        subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "ip", *args], check=True)

    in_h1("route", "del", "default")
    in_h1("addr", "flush", "dev", "eth0")
    in_h1("link", "set", "eth0", "down")
    code, _ = run_in(lab.tag, "h1", "ping -c 1 -W 1 198.18.2.10")
    assert code != 0
    again = engine(ROUTED, tag=lab.tag, previous=lab.assignments)
    changes = " | ".join(again.report.changes)
    assert "h1: eth0 address 198.18.1.10/24" in changes and "h1: route 0.0.0.0/0 via 198.18.1.1" in changes
    assert "h1: eth0 up" in changes, changes
    code, _ = run_in(lab.tag, "h1", "ping -c 1 -W 5 198.18.2.10")
    assert code == 0
    assert engine(ROUTED, tag=lab.tag, previous=lab.assignments).report.changes == []


FILES_LAB = """
name: files
networks:
  lan: {kind: segment, subnet: 198.18.40.0/24}
nodes:
  h1:
    kind: host
    interfaces: {eth0: {network: lan}}
    files: {/etc/lab/motd: "welcome to h1\\n", /tmp/lab/note: a file under /tmp}
  web:
    kind: container
    host: h1
    image: wirelab/node:busybox
    mode: host
    command: [httpd, -f, -p, "8080", -h, /www]
    files: {/www/index.html: served from a file of the lab}
"""


def test_node_files_are_in_place_before_the_node_starts(engine, run_in):
    lab = engine(FILES_LAB)
    assert not lab.report.failed_nodes, lab.report.failed_nodes
    code, motd = run_in(lab.tag, "h1", "cat /etc/lab/motd; stat -c %a /etc/lab/motd")
    assert code == 0 and motd.split("\n")[:2] == ["welcome to h1", "644"]
    code, modes = run_in(lab.tag, "h1", "stat -c %a /tmp /tmp/lab")
    assert code == 0 and modes.split() == ["1777", "755"]  # /tmp keeps its sticky bit
    # httpd started with /www as its root: the file was there before its process began
    assert fetch(run_in, lab.tag, "h1", "http://127.0.0.1:8080/") == "served from a file of the lab"
    assert engine(FILES_LAB, tag=lab.tag, previous=lab.assignments).report.changes == []


def test_the_listing_knows_each_running_containers_process_as_docker_does(engine):
    from worker.docker_runtime import DockerRuntime

    lab = engine(ROUTED)
    runtime = DockerRuntime(CONFIG)
    try:
        listed = sorted(runtime.list_containers(lab.tag), key=lambda i: i.name)
        assert [i.pid for i in listed] and all(i.pid for i in listed)
        assert listed == [runtime.inspect(i.id) for i in listed]
        runtime.stop(listed[0].id)
        stopped = {i.name: i for i in runtime.list_containers(lab.tag)}[listed[0].name]
        assert stopped.status == "exited" and stopped.pid == 0 and stopped == runtime.inspect(stopped.id)
    finally:
        runtime.close()


def root_namespace_state() -> dict:
    def run(*cmd):
        return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout

    links = sorted(link["ifname"] for link in json.loads(run("ip", "-j", "link")))
    return {
        "links": links,
        "addresses": run("ip", "-o", "addr"),
        "routes": run("ip", "route", "show", "table", "all"),
        "nft": run("nft", "list", "ruleset"),
    }


def test_identical_labs_are_isolated_and_the_root_namespace_untouched(engine, run_in):
    before = root_namespace_state()
    a = engine(ROUTED)
    b = engine(ROUTED)
    assert root_namespace_state() == before

    stats = "cat /sys/class/net/eth0/statistics/rx_packets"
    b_before = int(run_in(b.tag, "h2", stats)[1])
    code, _ = run_in(a.tag, "h1", "ping -c 30 -i 0.02 -W 2 198.18.2.10")
    assert code == 0
    # 30 echo requests reached lab a's h2; lab b's twin saw fewer than those 30: only its own
    # background chatter, which a busy machine's slower execs give longer to add up
    assert int(run_in(b.tag, "h2", stats)[1]) - b_before < 30

    subprocess.run(
        ["docker", "stop", "-t", "0", container_name(b.tag, "h2")], check=True, capture_output=True
    )
    code, _ = run_in(a.tag, "h1", "ping -c 1 -W 2 198.18.2.10")
    assert code == 0
    code, _ = run_in(b.tag, "h1", "ping -c 1 -W 1 198.18.2.10")
    assert code != 0


def test_unknown_image_fails_before_anything_is_built(engine):
    broken = ROUTED.replace("kind: router\n", "kind: router\n    image: wirelab/does-not-exist:1\n")
    tag = new_tag()
    with pytest.raises(ImageMissing, match=r"wirelab/does-not-exist:1 is not on lab host local"):
        engine(broken, tag=tag)
    assert leftovers(tag) == []


def test_published_port_outside_the_allowed_range_is_refused(engine):
    text = DOCKER_MODES.replace(
        "  h2:\n    kind: host\n", "  h2:\n    kind: host\n    publish_range: 20000-20999\n"
    )
    with pytest.raises(TopologyError) as info:
        engine(text)
    assert "host port 10001 is outside host h2's publish range 20000-20999" in str(info.value)


def test_startup_commands_run_once_and_a_failure_marks_only_its_node(engine, run_in):
    text = ROUTED.replace(
        "    routes: [{to: default, via: 198.18.1.1}]\n",
        "    routes: [{to: default, via: 198.18.1.1}]\n"
        "    exec: ['echo hello > /tmp/out', 'echo ran >> /tmp/count']\n",
        1,
    ).replace(
        "    routes: [{to: default, via: 198.18.2.1}]\n",
        "    routes: [{to: default, via: 198.18.2.1}]\n"
        "    exec: ['echo about to fail', 'exit 3', 'echo never']\n",
    )
    lab = engine(text)
    assert lab.report.nodes["h1"].state == "running"
    assert lab.report.nodes["r1"].state == "running"
    h2 = lab.report.nodes["h2"]
    assert h2.state == "failed"
    assert h2.reason == "startup command `exit 3` exited 3"
    assert "h2: $ exit 3 (exit 3)" in lab.report.log
    assert "h2:   about to fail" in lab.report.log
    assert run_in(lab.tag, "h1", "cat /tmp/out")[1] == "hello\n"

    again = engine(text, tag=lab.tag, previous=lab.assignments)
    assert again.report.changes == []
    assert run_in(lab.tag, "h1", "cat /tmp/count")[1] == "ran\n"
    assert again.report.nodes["h2"].reason == "startup command `exit 3` exited 3"


def test_containers_run_with_the_safety_baseline(engine):
    lab = engine(DOCKER_MODES)
    client = docker.from_env()
    try:
        for name, kind in (("h1", "host"), ("nginx-2", "container")):
            attrs = client.containers.get(container_name(lab.tag, name)).attrs
            host = attrs["HostConfig"]
            assert host["Privileged"] is False
            assert host["CapDrop"] == ["ALL"]
            assert "SYS_ADMIN" not in host["CapAdd"]
            assert ("NET_ADMIN" in host["CapAdd"]) == (kind == "host")
            assert host["PidsLimit"] == CONFIG.pids_limit
            assert host["Memory"] == 256 * 1024 * 1024
            assert "no-new-privileges" in host["SecurityOpt"]
            assert attrs["Mounts"] == []
            assert attrs["Config"]["Labels"]["wirelab.lab"] == lab.tag
    finally:
        client.close()


def test_a_lab_has_no_route_out(engine, run_in):
    lab = engine(DOCKER_MODES)
    code, routes = run_in(lab.tag, "h1", "ip route")
    assert "default" not in routes
    code, _ = run_in(lab.tag, "h1", "ping -c 1 -W 1 127.0.0.2 >/dev/null; ip route get 198.51.100.1")
    assert code != 0


def test_destroy_leaves_nothing_and_gc_takes_only_this_installations_orphans(engine):
    from worker.labhost import Engine

    mine = replace(CONFIG, installation=f"gc{new_tag()}")
    kept = engine(ROUTED, config=mine)
    orphan = engine(ROUTED, config=mine)
    foreign = engine(ROUTED, config=replace(CONFIG, installation=f"other{new_tag()}"))
    assert fabric.installation_of(fabric.fabric_namespace(orphan.tag)) == mine.installation
    assert Engine(mine).gc({kept.tag}, "local", dry_run=True) == [orphan.tag]
    assert leftovers(orphan.tag) != []
    # another installation's lab is unknown here too, and still never taken
    assert Engine(mine).gc(lambda: {kept.tag}, "local") == [orphan.tag]
    assert leftovers(orphan.tag) == []
    assert leftovers(kept.tag) != [] and leftovers(foreign.tag) != []

    report = destroy(kept.tag, "local", config=mine)
    assert f"fabric namespace wl-{kept.tag} removed" in report.changes
    assert leftovers(kept.tag) == []
    assert fabric.find(kept.tag) is None
    assert converge(report_spec := kept.spec.empty(kept.tag, "local"), mine).changes == []
    assert report_spec.sandboxes == []


UDP_AND_USER_PORT_ENV = """
name: udp
nodes:
  h1: {kind: host}
  app:
    kind: container
    host: h1
    mode: host
    image: wirelab/node:busybox
    command: [sh, -c, 'echo "$PORT0 $PORT1 $PORT" > /tmp/ports; exec sleep 600']
    ports: ['5353/udp']
    env: {PORT1: http}
"""


def test_a_host_mode_udp_port_and_a_users_own_port_env_deploy(engine, run_in):
    lab = engine(UDP_AND_USER_PORT_ENV)
    assert lab.report.nodes["app"].state == "running", lab.report.nodes["app"]
    (app,) = lab.spec.apps
    assert [(p.protocol, p.port) for p in app.ports] == [("udp", 5353)]
    code, out = run_in(lab.tag, "app", "cat /tmp/ports")
    assert code == 0, out
    assert out.split() == ["5353", "http", "5353"]


RUNAWAY = """
name: runaway
nodes:
  sleeper: {kind: host, exec: ['sleep 100000']}
  talker: {kind: host, exec: ['yes']}
  nul: {kind: host, exec: ["printf 'x\\\\000y'; exit 3"]}
  fine: {kind: host, exec: ['echo ok']}
"""


def test_startup_commands_are_bounded_in_time_and_output(run_in):
    from dataclasses import replace

    # the time limit counts from the exec's start: it is generous, so that on a loaded host
    # `yes` always passes the output limit first
    config = replace(CONFIG, exec_timeout=8, exec_output_limit=10_000)
    tag = new_tag()
    spec = compile_lab(read_document(RUNAWAY), tag, "local")[0]["local"]
    try:
        nodes = converge(spec, config).nodes
        assert nodes["fine"].state == "running"
        assert nodes["sleeper"].state == "failed" and "stopped after 8 s" in nodes["sleeper"].reason
        assert nodes["talker"].state == "failed" and "passed 10000 bytes" in nodes["talker"].reason
        assert nodes["nul"].state == "failed" and "\x00" not in nodes["nul"].reason
        code, out = run_in(tag, "sleeper", "ps")
        assert code == 0, out
        assert "sleep 100000" not in out  # the command was ended, not left behind
    finally:
        destroy(tag, "local", config=CONFIG)
        assert leftovers(tag) == []
