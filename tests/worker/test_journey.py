"""A packet's journey against the real kernel: the primer's paths in docker-modes traced from a
node, seen at every cable and interface, with each NAT rewrite (confirmed by conntrack), the VXLAN
encapsulation of the overlay, and where and why a probe stopped."""

import subprocess

import pytest

from tests.conftest import DEMOS
from tests.worker.conftest import CONFIG, in_netns_of
from worker.docker_runtime import DockerRuntime
from worker.labhost import Engine

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def modes_text():
    return (DEMOS / "docker-modes.yaml").read_text()


def pid_of(tag: str, node: str) -> int:
    runtime = DockerRuntime(CONFIG)
    try:
        return next(i.pid for i in runtime.list_containers(tag) if i.node == node and i.role == "sandbox")
    finally:
        runtime.close()


def path(journey: dict, leg: str) -> list[str]:
    """The places a leg went through, each once in a row: a node, or a cable's fabric end."""
    out: list[str] = []
    for hop in journey["hops"]:
        if hop["leg"] == leg:
            place = hop["node"] or f"cable {hop['cable']}"
            if not out or out[-1] != place:
                out.append(place)
    return out


def rewrites(journey: dict, leg: str) -> list[dict]:
    return [hop["rewrite"] for hop in journey["hops"] if hop["leg"] == leg and "rewrite" in hop]


def test_the_primers_paths(engine, modes_text):
    lab = engine(modes_text)
    assert lab.report.nodes["nginx-1b"].state != "running"  # the host-mode clash
    trace = Engine(CONFIG).trace
    nginx2 = next(a for a in lab.spec.apps if a.name == "nginx-2").interfaces[0].addresses[0].split("/")[0]

    # client -> h1:10000, DNATed by h1 to nginx-2:80, and the answer back, un-DNATed
    journey = trace(lab.spec, "client", "198.18.0.11", protocol="tcp", port=10000)
    assert journey["outcome"]["result"] == "reached" and journey["outcome"]["at"] == "nginx-2"
    assert journey["outcome"]["program"] == "httpd"
    assert path(journey, "request") == ["client", "cable client:eth0", "cable h1:eth0", "h1", "nginx-2"]
    assert path(journey, "reply") == ["nginx-2", "h1", "cable h1:eth0", "cable client:eth0", "client"]
    (dnat,) = rewrites(journey, "request")
    assert (dnat["kind"], dnat["at"], dnat["from"], dnat["to"]) == (
        "DNAT",
        "h1",
        "198.18.0.11:10000",
        f"{nginx2}:80",
    )
    assert dnat["conntrack"]["original"]["dport"] == "10000" and dnat["conntrack"]["reply"]["src"] == nginx2
    (undo,) = rewrites(journey, "reply")
    assert (undo["kind"], undo["to"]) == ("un-DNAT", "198.18.0.11:10000")
    stamps = [hop["ms"] for hop in journey["hops"]]
    assert stamps == sorted(stamps)

    # nginx-2 -> client, masqueraded by h1 on the way out
    journey = trace(lab.spec, "nginx-2", "198.18.0.100", protocol="icmp")
    assert journey["outcome"]["result"] == "reached" and journey["outcome"]["at"] == "client"
    (snat,) = rewrites(journey, "request")
    assert (snat["kind"], snat["at"], snat["from"], snat["to"]) == ("SNAT", "h1", nginx2, "198.18.0.11")
    assert path(journey, "request")[:2] == ["nginx-2", "h1"] and path(journey, "reply")[-1] == "nginx-2"

    # app-1 -> app-2 over the overlay: encapsulated in VXLAN between h1 and h2
    journey = trace(lab.spec, "app-1", "app-2", protocol="icmp")  # by name, as app-1 resolves it
    assert journey["outcome"]["result"] == "reached" and journey["outcome"]["at"] == "app-2"
    assert path(journey, "request") == ["app-1", "h1", "cable h1:eth0", "cable h2:eth0", "h2", "app-2"]
    tunnels = [hop["tunnel"] for hop in journey["hops"] if hop["leg"] == "request" and "tunnel" in hop]
    assert tunnels and all(
        (t["kind"], t["src"], t["dst"]) == ("vxlan", "198.18.0.11", "198.18.0.12") for t in tunnels
    )
    inner = next(hop for hop in journey["hops"] if hop["node"] == "app-1")["packet"]
    assert inner["src"].startswith("198.19.128.") and not rewrites(journey, "request")

    # client -> h1:80 while nginx-1b has failed: nginx-1 has the port
    journey = trace(lab.spec, "client", "h1", protocol="tcp", port=80)
    assert journey["outcome"]["result"] == "reached" and journey["outcome"]["at"] == "h1"
    assert journey["outcome"]["container"] == "nginx-1"
    assert path(journey, "request")[-1] == "h1" and not rewrites(journey, "request")


def test_where_and_why_a_probe_stops(engine, modes_text):
    lab = engine(modes_text)
    trace = Engine(CONFIG).trace
    refused = trace(lab.spec, "client", "h2", protocol="tcp", port=81)
    assert refused["outcome"]["result"] == "refused" and refused["outcome"]["at"] == "h2"
    assert next(h["packet"]["flags"] for h in refused["hops"] if h["leg"] == "reply") == "AR"
    closed = trace(lab.spec, "client", "198.18.0.12", protocol="udp", port=5353)
    assert closed["outcome"]["result"] == "refused" and closed["outcome"]["at"] == "h2"
    assert next(h["packet"]["icmp"] for h in closed["hops"] if h["leg"] == "error") == "port unreachable"
    no_route = trace(lab.spec, "client", "10.9.9.9", protocol="icmp")
    assert no_route["outcome"] == {
        "result": "no-route",
        "at": "client",
        "reason": "client has no route to 10.9.9.9",
    }
    nobody = trace(lab.spec, "client", "198.18.0.77", protocol="icmp", timeout=1)
    assert (
        nobody["outcome"]["result"] == "unreachable" and "ARP for 198.18.0.77" in nobody["outcome"]["reason"]
    )
    with pytest.raises(Exception, match="knows no name"):
        trace(lab.spec, "client", "app-2", protocol="icmp")  # not on the overlay


def test_a_probe_dropped_by_a_rule_names_the_rule(engine, modes_text):
    lab = engine(modes_text)
    student = "table ip student {\n chain gate {\n type filter hook forward priority 0;\n tcp dport 80 drop\n }\n}\n"
    subprocess.run(
        ["nsenter", f"--net=/proc/{pid_of(lab.tag, 'h1')}/ns/net", "nft", "-f", "-"],
        input=student, text=True, check=True,
    )  # fmt: skip
    journey = Engine(CONFIG).trace(lab.spec, "client", "198.18.0.11", protocol="tcp", port=10000, timeout=1)
    outcome = journey["outcome"]
    assert (outcome["result"], outcome["at"]) == ("dropped", "h1"), outcome
    assert outcome["rule"]["chain"] == "gate" and outcome["rule"]["rule"] == "tcp dport 80 drop"
    assert path(journey, "request")[-1] == "h1" and not path(journey, "reply")  # seen arriving, then gone
    assert "wirelab_trace" not in in_netns_of(lab.tag, "h1", ["nft", "list", "tables"])  # tracing undone
