"""Labs spanning lab hosts, against the real kernel: two lab hosts' engines on this machine, each
with an underlay namespace of its own, a lab's nodes split between them and its segments
stitched by VXLAN between their fabric namespaces."""

from __future__ import annotations

import itertools
import subprocess
from dataclasses import dataclass, replace

import pytest
import yaml

from tests.underlay import capture, make_underlay
from tests.waiting import wait_for
from tests.worker.conftest import CONFIG, leftovers, new_tag
from tests.worker.test_engine import DOCKER_MODES, ROUTED, assert_docker_modes_matrix
from topology.compiler import Underlay, compile_lab
from topology.document import read_document
from topology.spec import LabHostSpec
from worker import fabric
from worker.converge import converge, destroy
from worker.live.controls import set_cable
from worker.report import Report

pytestmark = pytest.mark.kernel
VNIS = itertools.count(7001)  # handed out centrally by the web side; here, one each


@dataclass
class Spanned:
    tag: str
    specs: dict[str, LabHostSpec]
    report: Report  # both lab hosts' node states


@pytest.fixture
def span():
    """`span(text, pins)` deploys a lab with nodes pinned to lab hosts 'a' and 'b'; everything of
    it, and the underlay, is removed after."""
    underlay = make_underlay(["a", "b"])
    mark = f"span{new_tag()}"
    configs = {
        host: replace(CONFIG, installation=mark, labhost=host, underlay_netns=underlay.netns[host])
        for host in ("a", "b")
    }
    tags: list[str] = []

    def deploy(text: str, pins: dict[str, str]) -> Spanned:
        data = yaml.safe_load(text)
        for node, host in pins.items():
            data["nodes"][node]["placement"] = {"labhost": host}
        tag = new_tag()
        tags.append(tag)
        vnis: dict[str, int] = {}
        stitching = Underlay(underlay.address, lambda bridge: vnis.setdefault(bridge, next(VNIS)))
        specs, _ = compile_lab(read_document(yaml.safe_dump(data)), tag, "a", underlay=stitching)
        report = Report(lab=tag)
        for host, spec in specs.items():
            report.nodes.update(converge(spec, configs[host]).nodes)
        return Spanned(tag, specs, report)

    deploy.underlay, deploy.configs = underlay, configs
    try:
        yield deploy
    finally:
        for tag in tags:
            for config in configs.values():
                destroy(tag, config.labhost, config=config)
        underlay.remove()
    assert [left for tag in tags for left in leftovers(tag)] == []


def test_docker_modes_across_two_lab_hosts_keeps_the_primers_paths(span, run_in):
    before = {host: span.underlay.links(host) for host in ("a", "b")}
    lab = span(DOCKER_MODES, {"h1": "a", "client": "a", "h2": "b"})

    a, b = lab.specs["a"], lab.specs["b"]
    assert {s.name for s in a.sandboxes} == {"h1", "client"} and {s.name for s in b.sandboxes} == {"h2"}
    assert {x.name for x in b.apps} == {"nginx-3", "app-dyn", "app-2"}
    [stitch] = a.stitches
    assert stitch.mtu == 1450 and stitch.peers == [span.underlay.address["b"]]
    assert fabric.find(lab.tag, span.configs["a"].mark).endswith(f"wl-{lab.tag}.a")
    assert fabric.find(lab.tag, span.configs["b"].mark).endswith(f"wl-{lab.tag}.b")

    # every path of the primer, the overlay at its full MTU: 50 bytes less for each VXLAN it rides
    assert_docker_modes_matrix(run_in, lab, overlay_mtu=1400)
    code, output = run_in(lab.tag, "app-1", "ping -c 1 -W 2 -M do -s 1373 198.19.128.3")
    assert code != 0, output  # one byte more does not fit, and says so rather than vanish

    # on the underlay, the overlay's VXLAN rides inside the lab's own, between the two lab hosts
    def ping() -> None:
        code, output = run_in(lab.tag, "app-1", "ping -c 2 -W 2 198.19.128.3")
        assert code == 0, output

    seen = capture(span.underlay, "a", 10, 2, ping)
    assert f"{span.underlay.address['a']}" in seen and f"{span.underlay.address['b']}.4789" in seen
    assert f"vni {stitch.vni}" in seen
    assert "198.19.128.2 > 198.19.128.3: ICMP echo request" in seen

    # the lab hosts' own underlay stacks: not an address, interface or route more
    assert {host: span.underlay.links(host) for host in ("a", "b")} == before


def test_a_routed_lab_split_across_lab_hosts_forwards_and_labs_with_the_same_addresses_stay_apart(
    span, run_in
):
    first = span(ROUTED, {"h1": "a", "r1": "a", "h2": "b"})
    second = span(ROUTED, {"h1": "a", "r1": "a", "h2": "b"})
    assert first.specs["a"].stitches[0].vni != second.specs["a"].stitches[0].vni

    for lab in (first, second):
        _, trace = run_in(lab.tag, "h1", "traceroute -n -w 1 -q 1 198.18.2.10 2>&1")
        assert "198.18.1.1" in trace and "198.18.2.10" in trace, trace

    # pull the second lab's cable of h2 on lab host b: its h1 no longer reaches 198.18.2.10,
    # though the first lab's h2 has that address on the same two lab hosts
    cable = second.specs["b"].cables["h2:eth0"]
    set_cable(second.tag, cable, False, span.configs["b"].mark)
    code, output = run_in(second.tag, "h1", "ping -c 2 -W 1 198.18.2.10")
    assert code != 0, output
    code, output = run_in(first.tag, "h1", "ping -c 1 -W 2 198.18.2.10")
    assert code == 0, output
    set_cable(second.tag, cable, True, span.configs["b"].mark)
    # back: the neighbour entries that failed meanwhile are learnt again, in a moment or, on a
    # busy machine, a few
    wait_for(lambda: run_in(second.tag, "h1", "ping -c 1 -W 2 198.18.2.10")[0] == 0, 60, "h2 back")


def test_a_lab_that_stops_spanning_keeps_one_fabric_and_converging_again_changes_nothing(span):
    lab = span(ROUTED, {"h2": "b"})
    a = span.configs["a"]
    assert converge(lab.specs["a"], a).changes == []

    assert converge(LabHostSpec.empty(lab.tag, "b"), span.configs["b"]).nodes == {}
    assert fabric.owned(span.configs["b"].mark, lab.tag) == {}
    whole, _ = compile_lab(read_document(ROUTED), lab.tag, "a")
    report = converge(whole["a"], a)
    assert f"fabric namespace wl-{lab.tag}.a removed" in report.changes
    assert {n for n, s in report.nodes.items() if s.state == "running"} == {"r1", "h1", "h2"}
    assert fabric.find(lab.tag, a.mark).endswith(f"wl-{lab.tag}")
    assert subprocess.run(["ip", "netns", "exec", f"wl-{lab.tag}", "true"], check=False).returncode == 0
