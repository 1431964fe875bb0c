"""Services against the real kernel: a virtual IP balanced round robin over three backends by
nftables numgen DNAT in every host, a backend that stops (through Wirelab, or behind its back)
dropped, none left: refused at once."""

import docker
import pytest

from tests.conftest import DEMOS
from tests.worker.conftest import CONFIG, in_netns_of
from worker import services
from worker.docker_runtime import DockerRuntime
from worker.labhost import Engine

pytestmark = pytest.mark.kernel
WITH_SERVICE = (
    (DEMOS / "docker-modes.yaml").read_text()
    + """
services:
  web: {address: 198.18.0.200, port: 80, backends: [nginx-1, nginx-2, nginx-3]}
"""
)


def answers(run_in, tag: str, node: str = "client", times: int = 30) -> list[str]:
    loop = f"for i in $(seq {times}); do timeout 5 wget -qO- http://198.18.0.200/ || echo failed; done"
    return run_in(tag, node, loop)[1].split()


def refresh(tag: str) -> list[str]:
    runtime = DockerRuntime(CONFIG)
    try:
        return services.refresh(CONFIG, runtime, tag)
    finally:
        runtime.close()


def test_a_service_balances_over_its_backends_and_drops_those_that_stop(engine, run_in):
    lab = engine(WITH_SERVICE)
    got = answers(run_in, lab.tag)
    assert sorted(set(got)) == ["nginx-1", "nginx-2", "nginx-3"] and len(got) == 30, got
    # from a bridge-mode container too: its host DNATs what it forwards
    assert set(answers(run_in, lab.tag, "nginx-2", 6)) == {"nginx-1", "nginx-2", "nginx-3"}
    table = in_netns_of(lab.tag, "client", ["nft", "list", "table", "ip", "wirelab_svc"])
    assert "numgen inc mod 3" in table and "198.18.0.12 . 10001" in table, table
    own = in_netns_of(lab.tag, "h2", ["nft", "list", "table", "ip", "wirelab_svc"])  # nginx-3 is h2's own:
    assert (
        "198.19.0.2 . 80" in own and "198.18.0.12 . 10001" not in own
    )  # reached directly, hairpin masqueraded
    assert "ip saddr 198.19.0.2 ip daddr 198.19.0.2 tcp dport 80 masquerade" in own
    assert engine(WITH_SERVICE, tag=lab.tag, previous=lab.assignments).report.changes == []

    facade = Engine(CONFIG)
    facade.node_action(lab.spec, "nginx-3", "stop")
    got = answers(run_in, lab.tag)
    assert sorted(set(got)) == ["nginx-1", "nginx-2"] and len(got) == 30, got

    client = docker.from_env()  # behind Wirelab's back: what the monitor then does on the event
    client.containers.get(f"wl-{lab.tag}-nginx-2").kill()
    client.close()
    assert refresh(lab.tag)
    assert set(answers(run_in, lab.tag, times=6)) == {"nginx-1"}

    facade.node_action(lab.spec, "nginx-3", "start")
    assert set(answers(run_in, lab.tag, times=6)) == {"nginx-1", "nginx-3"}

    facade.node_action(lab.spec, "nginx-1", "stop")
    facade.node_action(lab.spec, "nginx-3", "stop")
    code, out = run_in(lab.tag, "client", "timeout 5 wget -qO- http://198.18.0.200/ 2>&1")
    assert code != 0 and "refused" in out.lower(), out  # no backend: refused, not left waiting


def test_a_lab_that_drops_its_services_loses_their_table(engine):
    lab = engine(WITH_SERVICE)
    assert "wirelab_svc" in in_netns_of(lab.tag, "client", ["nft", "list", "tables"])
    plain = engine((DEMOS / "docker-modes.yaml").read_text(), tag=lab.tag, previous=lab.assignments)
    assert {c.split(": ", 1)[1] for c in plain.report.changes if "services" in c} == {"services removed"}
    assert "wirelab_svc" not in in_netns_of(lab.tag, "client", ["nft", "list", "tables"])
    assert refresh(lab.tag) == []
