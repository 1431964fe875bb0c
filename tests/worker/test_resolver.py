"""The lab's embedded DNS against the real kernel: every namespace asks 127.0.0.11 (its
resolv.conf), a rule there hands the query to the resolver's own socket, and the names answered
are the lab's; a node's own DNS server can still listen on port 53."""

import sys
import threading

import pytest

from tests.conftest import DEMOS
from tests.waiting import wait_for
from tests.worker.conftest import CONFIG, in_netns_of
from worker.docker_runtime import DockerRuntime
from worker.live.resolver import Resolver
from worker.runtime import NAMESPACE_ROLES
from worker.sockets import listening_ports

pytestmark = pytest.mark.kernel
WITH_SERVICE = (
    (DEMOS / "docker-modes.yaml").read_text()
    + "\nservices:\n  web: {address: 198.18.0.200, port: 80, backends: [nginx-1, nginx-2, nginx-3]}\n"
)


@pytest.fixture
def resolver():
    """`resolver(tag)`: answer in every namespace of the lab until the test ends."""
    stop, threads, made = threading.Event(), [], []

    def start(tag: str) -> Resolver:
        runtime = DockerRuntime(CONFIG)
        try:
            infos = [i for i in runtime.list_containers(tag) if i.role in NAMESPACE_ROLES and i.pid]
        finally:
            runtime.close()
        answering = Resolver(CONFIG)
        answering.follow({f"/proc/{i.pid}/ns/net": (tag, i.node, i.pid) for i in infos})
        thread = threading.Thread(target=answering.run, args=(stop,), daemon=True)
        thread.start()
        threads.append(thread)
        made.append(answering)
        return answering

    yield start
    stop.set()
    for thread in threads:
        thread.join(timeout=10)
    assert all(not r.listeners for r in made)  # every socket closed: no namespace kept alive


def resolved(run_in, tag: str, node: str, name: str) -> str:
    code, out = run_in(tag, node, f"nslookup {name}")
    return out if code == 0 else ""


def test_containers_resolve_the_labs_names(engine, run_in, resolver):
    lab = engine(WITH_SERVICE)
    answering = resolver(lab.tag)
    out = wait_for(lambda: resolved(run_in, lab.tag, "client", "h2"), 60, "the client resolving h2")
    assert "198.18.0.12" in out and "127.0.0.11" in out
    # the resolver's socket is the lab host's: not among what the node listens on
    (path,) = [p for p, listener in answering.listeners.items() if listener.owner == "client"]
    port = answering.listeners[path].sock.getsockname()[1]
    pid = int(path.split("/")[2])
    assert ("udp", port) not in listening_ports(pid) and listening_ports(pid) == set()
    code, out = run_in(lab.tag, "client", "cat /etc/resolv.conf")
    assert "nameserver 127.0.0.11" in out
    # a host-mode container is its host's stack; the service by its virtual IP, and it answers
    assert "198.18.0.11" in resolved(run_in, lab.tag, "nginx-1", "nginx-1")
    code, out = run_in(lab.tag, "client", "timeout 5 wget -qO- http://web/")
    assert code == 0 and out.strip() in {"nginx-1", "nginx-2", "nginx-3"}, out
    # overlay containers find each other by name, and reach each other so
    app2 = lab.spec.names.records[next(s for s in lab.spec.names.views["app-1"] if s.startswith("overlay"))]
    assert app2["app-2"][0] in wait_for(lambda: resolved(run_in, lab.tag, "app-1", "app-2"), 30, "app-2")
    code, out = run_in(lab.tag, "app-1", "ping -c 1 -W 5 app-2")
    assert code == 0, out
    assert resolved(run_in, lab.tag, "client", "app-2") == ""  # not on the overlay: no such name
    code, out = run_in(lab.tag, "client", "nslookup 198.18.0.11")
    assert "h1" in out, out  # and back
    # the resolver's rule in each namespace; a node's own DNS server still gets port 53
    assert "127.0.0.11" in in_netns_of(lab.tag, "client", ["nft", "list", "table", "ip", "wirelab_dns"])
    own_server = "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', 53)); print('bound')"
    assert in_netns_of(lab.tag, "h2", [sys.executable, "-c", own_server]).strip() == "bound"


def test_a_flood_from_one_node_leaves_the_others_answered(engine, run_in, resolver):
    lab = engine((DEMOS / "docker-modes.yaml").read_text())
    answering = resolver(lab.tag)
    answering.rate = 20
    wait_for(lambda: resolved(run_in, lab.tag, "h1", "h2"), 60, "h1 resolving h2")
    flood = "i=0; while [ $i -lt 400 ]; do nslookup h2 >/dev/null 2>&1 & i=$((i+1)); done; wait"
    flooding = threading.Thread(target=run_in, args=(lab.tag, "h1", flood))
    flooding.start()
    try:
        assert "198.18.0.11" in wait_for(lambda: resolved(run_in, lab.tag, "client", "h1"), 30, "the client")
    finally:
        flooding.join(timeout=120)
    by_owner = {listener.owner: listener for listener in answering.listeners.values()}
    assert by_owner["h1"].pauses > 0 and by_owner["client"].pauses == 0
