"""An exercise's checks against a real running lab: each kind passes where the lab has what
it asks for, fails with a plain sentence where it does not, and sees only its own lab."""

from __future__ import annotations

import textwrap

import pytest

from topology.document import read_document
from topology.exercise import plan_checks
from topology.validation import validate
from worker.labhost import Engine

from .conftest import CONFIG

pytestmark = pytest.mark.kernel

LAB = textwrap.dedent("""
    name: checks
    networks:
      lan: {kind: segment, subnet: 198.18.40.0/24}
    nodes:
      h1:
        kind: host
        interfaces: {eth0: {network: lan, address: 198.18.40.11/24}}
        routes: [{to: 198.18.41.0/24, via: 198.18.40.1}]
      client:
        kind: host
        interfaces: {eth0: {network: lan, address: 198.18.40.100/24}}
      web:
        kind: container
        host: h1
        image: wirelab/node:busybox
        mode: bridge
        command: [sh, -c, 'mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www']
        ports: ['10000:80']
      dyn:
        kind: container
        host: h1
        image: wirelab/node:busybox
        mode: host
        command: [sh, -c, 'exec httpd -f -p $PORT0 -h /']
        ports: [auto]
    """)

CHECKS = """
exercise:
  checks:
    - reach: {from: client, to: h1}
    - reach: {from: client, to: "198.18.40.11:10000", contains: hello-web}
    - reach: {from: client, to: "198.18.40.11:10000", contains: goodbye}
    - reach: {from: client, to: "198.18.40.11:10001"}
    - reach: {from: client, to: "198.18.40.11:10001", expect: failure}
    - reach: {from: client, to: 198.18.40.99, timeout: 1}
    - published: {host: h1, port: 10000, from: client}
    - listening: {node: dyn, port: PORT0}
    - listening: {node: h1, port: 22}
    - route: {node: h1, to: 198.18.41.0/24, via: 198.18.40.1}
    - route: {node: client, to: default}
    - address: {node: client, address: 198.18.40.100/24, interface: eth0}
    - address: {node: client, address: 198.18.40.101}
    - link: {node: client, interface: eth0}
    - link: {node: client, interface: eth9}
    - command: {node: client, run: "echo ready; exit 3", exit_code: 3, output: "^ready$"}
    - command: {node: client, run: "echo nope", output: "^ready$"}
    - file: {node: web, path: /www/index.html, matches: hello}
    - file: {node: web, path: /www/missing.html}
"""


@pytest.fixture
def running(engine):
    deployed = engine(LAB)
    assert not deployed.report.failed_nodes, deployed.report.failed_nodes
    return deployed


def test_each_kind_of_check_passes_or_says_why_not(running):
    doc = read_document(LAB + CHECKS)
    assert not [p for p in validate(doc) if p.severity == "error"]
    seen = []
    results = Engine(CONFIG).check(running.spec, plan_checks(doc.exercise), progress=seen.append)
    assert seen == results
    by = [(r["passed"], r["message"]) for r in results]
    assert by[0][0] and by[0][1].startswith("client reaches 198.18.40.11: ping answered")
    assert by[1] == (True, "client reaches 198.18.40.11:10000: HTTP 200, the page contains 'hello-web'")
    assert by[2] == (
        False,
        "client cannot reach 198.18.40.11:10000: HTTP 200, but the page does not contain 'goodbye'",
    )
    assert by[3] == (
        False,
        "client cannot reach 198.18.40.11:10001: connection refused; "
        "traced, the probe stopped at h1: h1 refused it: nothing takes tcp 10001",
    )
    assert by[4] == (True, "client cannot reach 198.18.40.11:10001 (connection refused), as it should not")
    assert by[5][0] is False and by[5][1].startswith("client cannot reach 198.18.40.99: ")
    assert "; traced, the probe stopped at client: " in by[5][1]  # its ARP went unanswered
    assert by[6] == (True, "client reaches 198.18.40.11:10000: TCP connection accepted")
    assert by[7][0] and by[7][1].startswith("dyn listens on tcp port 31")
    assert by[8] == (False, "nothing listens on tcp port 22 of h1")
    assert by[9] == (True, "h1 has a route to 198.18.41.0/24 via 198.18.40.1")
    assert by[10][0] is False and by[10][1].startswith(
        "client has no route to default (its routes: 198.18.40.0/24"
    )
    assert by[11] == (True, "client has 198.18.40.100/24 on eth0")
    assert by[12] == (False, "client has no address 198.18.40.101 (it has: 198.18.40.100/24)")
    assert by[13] == (True, "client:eth0 is up")
    assert by[14] == (False, "client has no interface eth9")
    assert by[15] == (True, "exit code 3, output matches /^ready$/")
    assert by[16] == (False, "the output does not match /^ready$/ (it ends: nope)")
    assert by[17] == (True, "web has /www/index.html matching /hello/")
    assert by[18][0] is False and by[18][1].startswith("web has no file /www/missing.html")
    assert [r["node"] for r in results[:2]] == ["client", "client"]


def test_a_check_that_waits_passes_once_the_lab_has_caught_up(running, run_in):
    doc = read_document(
        LAB
        + """
exercise:
  checks:
    - file: {node: client, path: /tmp/ready}
    - file: {node: client, path: /tmp/ready}
      wait: 30
"""
    )
    run_in(running.tag, "client", "rm -f /tmp/ready; (sleep 4; touch /tmp/ready) >/dev/null 2>&1 &")
    first, waited = Engine(CONFIG).check(running.spec, plan_checks(doc.exercise))
    assert first["passed"] is False and first["message"].startswith("client has no file /tmp/ready")
    assert waited == {**waited, "passed": True, "message": "client has /tmp/ready"}


def test_a_pulled_cable_fails_the_link_check(running):
    doc = read_document(LAB + "exercise: {checks: [{link: {node: client, interface: eth0}}]}")
    labhost = Engine(CONFIG)
    labhost.cable(running.spec, "client", "eth0", False)
    (result,) = labhost.check(running.spec, plan_checks(doc.exercise))
    assert result["passed"] is False
    assert result["message"] == "client:eth0 is down (no carrier: its cable is pulled), not up"
    labhost.cable(running.spec, "client", "eth0", True)
    (result,) = labhost.check(running.spec, plan_checks(doc.exercise))
    assert result["passed"] is True


def test_checks_see_only_their_own_lab(running, engine):
    """The same node names in another lab are another lab's: a lab not deployed has no nodes,
    and a node of one lab never reaches an address of another."""
    other = engine(LAB.replace("198.18.40.", "198.18.42."))
    doc = read_document(LAB + "exercise: {checks: [{reach: {from: client, to: '198.18.42.11:10000'}}]}")
    (result,) = Engine(CONFIG).check(running.spec, plan_checks(doc.exercise))
    assert result["passed"] is False and "198.18.42.11:10000" in result["message"]
    gone = type(running.spec)(lab="tnothere", labhost="local", sandboxes=running.spec.sandboxes)
    (result,) = Engine(CONFIG).check(gone, plan_checks(doc.exercise))
    assert result == {**result, "passed": False, "message": "client is not deployed"}
    assert other.tag != running.tag


def test_a_round_stops_at_its_budget(running):
    from worker.checks import run_checks
    from worker.docker_runtime import DockerRuntime

    doc = read_document(LAB + CHECKS)
    runtime = DockerRuntime(CONFIG)
    try:
        results = run_checks(running.spec, plan_checks(doc.exercise), runtime, budget=0)
    finally:
        runtime.close()
    assert results[0].message.startswith("client reaches")  # the first always runs
    assert all(r.passed is False and r.message.startswith("not run:") for r in results[1:])
