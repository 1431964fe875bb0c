"""Routing daemons for real: the demos' FRR routers learn routes over OSPF and BGP into their
kernels, a pulled cable re-routes, and the Debian node carries a network lab's tools."""

import json

import pytest

from tests.conftest import DEMOS
from tests.waiting import wait_for
from tests.worker.conftest import CONFIG
from worker.labhost import Engine

OSPF_TRIANGLE = (DEMOS / "ospf-triangle.yaml").read_text()
BGP_TWO_AS = (DEMOS / "bgp-two-as.yaml").read_text()

pytestmark = pytest.mark.kernel


def kernel_route(run_in, tag: str, node: str, prefix: str) -> dict | None:
    """The node's route to `prefix` as its kernel has it (`ip -j route`), or None."""
    code, output = run_in(tag, node, f"ip -j route show {prefix}")
    routes = json.loads(output) if code == 0 and output.strip() else []
    return routes[0] if routes else None


def learnt(run_in, tag: str, node: str, prefix: str, protocol: str, via: str):
    route = kernel_route(run_in, tag, node, prefix)
    return route if route and route.get("protocol") == protocol and route.get("gateway") == via else None


def test_ospf_triangle_converges_and_a_pulled_cable_reroutes(engine, run_in):
    lab = engine(OSPF_TRIANGLE)
    assert "NET_BIND_SERVICE" in next(s for s in lab.spec.sandboxes if s.name == "r1").capabilities
    # r1 learns r3's LAN over their direct link (r1:eth2 198.18.0.9 - r3:eth2 198.18.0.10).
    wait_for(lambda: learnt(run_in, lab.tag, "r1", "198.18.3.0/24", "ospf", "198.18.0.10"), 90, "OSPF")
    wait_for(lambda: learnt(run_in, lab.tag, "r3", "198.18.1.0/24", "ospf", "198.18.0.9"), 90, "OSPF at r3")
    _, trace = run_in(lab.tag, "h1", "traceroute -n -w 2 -q 2 198.18.3.10 2>&1")
    assert "198.18.0.10" in trace and "198.18.0.2 " not in trace, trace  # straight to r3

    Engine(CONFIG).cable(lab.spec, "r1", "eth2", plugged=False)
    # Within the dead interval r1 sends r3's LAN through r2 (r1:eth1 198.18.0.1 - r2:eth1 198.18.0.2).
    wait_for(lambda: learnt(run_in, lab.tag, "r1", "198.18.3.0/24", "ospf", "198.18.0.2"), 60, "re-route")
    wait_for(
        lambda: learnt(run_in, lab.tag, "r3", "198.18.1.0/24", "ospf", "198.18.0.5"), 60, "r3's way back"
    )
    wait_for(lambda: run_in(lab.tag, "h1", "ping -c 1 -W 2 198.18.3.10")[0] == 0, 30, "h1 to reach h3 again")
    _, trace = run_in(lab.tag, "h1", "traceroute -n -w 2 -q 2 198.18.3.10 2>&1")
    assert "198.18.0.2" in trace and "198.18.0.6" in trace, trace  # through r2, then r3

    Engine(CONFIG).cable(lab.spec, "r1", "eth2", plugged=True)
    wait_for(lambda: learnt(run_in, lab.tag, "r1", "198.18.3.0/24", "ospf", "198.18.0.10"), 60, "way back")


def test_two_autonomous_systems_exchange_their_lans_over_bgp(engine, run_in):
    lab = engine(BGP_TWO_AS)
    # FRR backs off between attempts at a session (up to 120 s) after early failures, such as
    # a connection made while the other router was still being wired on a busy lab host
    try:
        wait_for(
            lambda: learnt(run_in, lab.tag, "r1", "198.18.2.0/24", "bgp", "198.18.0.2"), 180, "r1's BGP route"
        )
    except AssertionError:
        _, neighbour = run_in(lab.tag, "r1", "vtysh -c 'show bgp neighbors'")
        raise AssertionError(f"r1 learnt no BGP route; what it says of its neighbour:\n{neighbour}") from None
    wait_for(
        lambda: learnt(run_in, lab.tag, "r2", "198.18.1.0/24", "bgp", "198.18.0.1"), 90, "r2's BGP route"
    )
    wait_for(lambda: run_in(lab.tag, "h1", "ping -c 1 -W 2 198.18.2.10")[0] == 0, 30, "h1 to reach h2")
    _, summary = run_in(lab.tag, "r1", "vtysh -c 'show bgp ipv4 unicast summary'")
    assert "198.18.0.2" in summary and "65002" in summary, summary


DEBIAN_PAIR = """
name: debian-pair
networks:
  lan: {kind: segment, subnet: 198.18.5.0/24}
nodes:
  web:
    kind: host
    image: wirelab/node:debian
    interfaces: {eth0: {network: lan, address: 198.18.5.1/24}}
  nginx:
    kind: container
    host: web
    image: wirelab/node:debian
    mode: bridge
    command: "nginx -g 'daemon off;'"
    ports: ['8080:80']
  client:
    kind: host
    image: wirelab/node:debian
    interfaces: {eth0: {network: lan, address: 198.18.5.2/24}}
"""


def test_the_debian_node_has_a_network_labs_tools(engine, run_in):
    lab = engine(DEBIAN_PAIR)
    tools = "iperf3 tcpdump curl dig nc traceroute tracepath ethtool nft iptables ping ip nginx ps"
    code, output = run_in(
        lab.tag, "client", f"for t in {tools}; do command -v $t >/dev/null || echo no $t; done"
    )
    assert code == 0 and output.strip() == "", output
    page = wait_for(lambda: run_in(lab.tag, "client", "curl -s -m 2 http://198.18.5.1:8080/")[1], 30, "nginx")
    assert "nginx" in page.lower(), page
