"""Compiling a lab into a per-host spec: pure planning, no kernel needed."""

import json

import pytest

from topology.compiler import compile_lab
from topology.document import read_document
from topology.problems import TopologyError
from topology.spec import FABRIC, LabHostSpec


def compiled(text, previous=None):
    specs, assignments = compile_lab(read_document(text), "t1", "local", previous)
    return specs["local"], assignments


@pytest.fixture
def modes(demo_text):
    return compiled(demo_text("docker-modes"))[0]


def test_spec_round_trips_through_json(modes):
    assert LabHostSpec.from_dict(json.loads(json.dumps(modes.to_dict()))) == modes


def test_hosts_get_a_segment_port_each(modes):
    fabric_ends = {w.a.node: w.b for w in modes.wires if w.b.node == FABRIC}
    assert set(fabric_ends) == {"h1", "h2", "client"}
    assert {end.bridge for end in fabric_ends.values()} == set(modes.segments)
    assert all(len(end.ifname) <= 15 for end in fabric_ends.values())


def test_bridge_mode_publishes_and_masquerades(modes):
    h1 = next(s for s in modes.sandboxes if s.name == "h1")
    assert [(p.host_port, p.address, p.port) for p in h1.publish] == [(10000, "198.19.0.2", 80)]
    assert h1.masquerade == ["198.19.0.0/24"]
    assert h1.sysctls == {"net.ipv4.ip_forward": "1"}
    nginx2 = next(a for a in modes.apps if a.name == "nginx-2")
    assert [(r.to, r.via) for r in nginx2.routes] == [("default", "198.19.0.1")]


def test_host_mode_gets_marathon_ports(modes):
    app = next(a for a in modes.apps if a.name == "app-dyn")
    assert app.env == {"PORT0": "31000", "PORT": "31000", "PORTS": "31000"}
    assert app.interfaces == []


def test_overlay_spans_hosts_with_vxlan_and_a_smaller_mtu(modes):
    h1, h2 = (next(s for s in modes.sandboxes if s.name == n) for n in ("h1", "h2"))
    (vx1,), (vx2,) = h1.vxlans, h2.vxlans
    assert (vx1.local, vx1.peers) == ("198.18.0.11", ["198.18.0.12"])
    assert (vx2.local, vx2.peers) == ("198.18.0.12", ["198.18.0.11"])
    assert vx1.vni == vx2.vni
    app1 = next(a for a in modes.apps if a.name == "app-1")
    assert app1.interfaces[0].mtu == 1450


def test_p2p_links_run_through_a_fabric_bridge_of_their_own():
    spec, _ = compiled(
        "name: p\nnodes:\n  a: {kind: router}\n  b: {kind: router}\n"
        "links:\n  - endpoints: [a:eth1, b:eth1]\n    subnet: 198.18.9.0/30\n"
    )
    assert [(w.a.node, w.a.ifname, w.b.node) for w in spec.wires] == [
        ("a", "eth1", FABRIC),
        ("b", "eth1", FABRIC),
    ]
    assert len(spec.segments) == 1
    assert {w.b.bridge for w in spec.wires} == set(spec.segments)
    assert [i.addresses for s in spec.sandboxes for i in s.interfaces] == [
        ["198.18.9.1/30"],
        ["198.18.9.2/30"],
    ]


def test_switch_ports_join_one_fabric_bridge():
    spec, _ = compiled(
        "name: s\nnodes:\n  sw: {kind: switch}\n  a: {kind: host}\n  b: {kind: host}\n"
        "links:\n  - {endpoints: [a:eth0, sw:p1], subnet: 198.18.8.0/24}\n  - {endpoints: [b:eth0, sw:p2]}\n"
    )
    assert len(spec.segments) == 1
    assert [w.b.bridge for w in spec.wires] == spec.segments * 2
    assert [s.name for s in spec.sandboxes] == ["a", "b"]


def test_adding_a_node_changes_only_what_it_adds(demo_text):
    before, assignments = compiled(demo_text("docker-modes"))
    grown = demo_text("docker-modes").replace(
        "  client:", "  extra:\n    kind: host\n    interfaces: {eth0: {network: lan}}\n  client:"
    )
    after, _ = compiled(grown, assignments)
    old = {s.name: s for s in before.sandboxes}
    for sandbox in after.sandboxes:
        if sandbox.name != "extra":
            assert sandbox == old[sandbox.name]
    assert {w.key for w in before.wires} < {w.key for w in after.wires}
    assert before.segments == after.segments


def test_compiling_a_lab_with_errors_is_refused(fixture_text):
    with pytest.raises(TopologyError) as info:
        compiled(fixture_text("broken-many.yaml"))
    assert len(info.value.problems) >= 8


def test_the_spec_carries_ports_with_their_protocol_and_every_cable_name():
    doc = read_document(
        "name: p\nnetworks:\n  lan: {kind: segment, subnet: 198.18.0.0/24}\nnodes:\n"
        "  h1: {kind: host, interfaces: {eth0: {network: lan}}}\n"
        "  dns: {kind: container, host: h1, image: i, mode: host, ports: ['53/udp', auto]}\n"
    )
    specs, _ = compile_lab(doc, "tag1", "local")
    spec = specs["local"]
    (app,) = spec.apps
    assert [(p.protocol, p.port) for p in app.ports] == [("udp", 53), ("tcp", 31000)]
    assert set(spec.cables) == {"h1:eth0"}
    assert spec.cables["h1:eth0"] in {w.b.ifname for w in spec.wires}
    assert LabHostSpec.from_dict(spec.to_dict()) == spec


def test_warmable_sandboxes_are_the_ones_a_warm_sandbox_can_become(demo_text):
    def warmable(text: str) -> list[str]:
        specs, _ = compile_lab(read_document(text), "t0000", "local")
        return sorted(s.name for s in specs["local"].warmable())

    assert warmable(demo_text("routed")) == ["h1", "h2", "r1"]  # forwarding is set after the claim
    # h1 and h2 hold host-mode apps, which take their host's hostname when they are made
    assert warmable(demo_text("docker-modes")) == ["client"]
    own_env = "name: e\nnodes:\n  a: {kind: host, env: {X: '1'}}\n  b: {kind: host}\n"
    assert warmable(own_env) == ["b"]  # a container's environment is fixed when it is made


def spanning(text, pins, underlay=None, vnis=None):
    """Compile with hosts and routers pinned to lab hosts ('a' is the lab's own)."""
    import yaml

    from topology.compiler import Underlay

    data = yaml.safe_load(text)
    for node, host in pins.items():
        data["nodes"][node]["placement"] = {"labhost": host}
    vnis = {} if vnis is None else vnis
    if underlay is None:
        underlay = Underlay(
            {"a": "192.0.2.1", "b": "192.0.2.2"}, lambda b: vnis.setdefault(b, 100 + len(vnis))
        )
    return compile_lab(read_document(yaml.safe_dump(data)), "t1", "a", underlay=underlay)[0]


def test_a_lab_spanning_lab_hosts_is_one_spec_each_with_its_segments_stitched(demo_text):
    specs = spanning(demo_text("docker-modes"), {"h2": "b"})
    a, b = specs["a"], specs["b"]
    assert (a.part, b.part) == ("a", "b")
    assert {s.name for s in a.sandboxes} == {"h1", "client"} and {s.name for s in b.sandboxes} == {"h2"}
    assert {x.name for x in b.apps} == {"nginx-3", "app-dyn", "app-2"}  # containers go with their host
    assert set(b.cables) == {"h2:eth0"} and set(a.cables) == {"h1:eth0", "client:eth0"}
    assert a.segments == b.segments
    [sa], [sb] = a.stitches, b.stitches
    assert (sa.vni, sa.bridge) == (sb.vni, sb.bridge) == (100, a.segments[0])
    assert (sa.local, sa.peers, sb.local, sb.peers) == (
        "192.0.2.1",
        ["192.0.2.2"],
        "192.0.2.2",
        ["192.0.2.1"],
    )
    # the stitched LAN loses the VXLAN header to the underlay, the overlay above it as much again
    assert sa.mtu == 1450
    h2 = b.sandboxes[0]
    assert h2.interfaces[0].mtu == 1450
    assert {br.name: br.mtu for br in h2.bridges if br.name.startswith("ov")}.popitem()[1] == 1400
    assert [w.mtu for w in b.wires if w.a.node == "app-2"] == [1400]
    assert all(not s.stitches for s in spanning(demo_text("docker-modes"), {"h2": "a"}).values())


def test_only_segments_with_members_on_several_lab_hosts_are_stitched(demo_text):
    specs = spanning(demo_text("routed"), {"h2": "b"})  # lan2 spans a and b; lan1 stays on a
    [stitch] = specs["a"].stitches
    assert specs["b"].segments == [stitch.bridge] and len(specs["a"].segments) == 2
    r1 = next(s for s in specs["a"].sandboxes if s.name == "r1")
    assert sorted((i.name, i.mtu) for i in r1.interfaces) == [("eth0", None), ("eth1", 1450)]


def test_a_pin_to_a_lab_host_without_an_underlay_address_is_refused_at_its_node(demo_text):
    from topology.compiler import Underlay

    with pytest.raises(TopologyError) as refused:
        spanning(demo_text("routed"), {"h2": "c"}, Underlay({"a": "192.0.2.1"}, lambda b: 1))
    [problem] = refused.value.problems
    assert problem.path == "nodes.h2.placement.labhost" and "'c' has no underlay address" in problem.message


def test_only_hosts_and_routers_are_placed_their_containers_follow(demo_text):
    import yaml

    data = yaml.safe_load(demo_text("docker-modes"))
    data["nodes"]["app-1"]["placement"] = {"labhost": "b"}
    with pytest.raises(TopologyError) as refused:
        compile_lab(read_document(yaml.safe_dump(data)), "t1", "a")
    assert [p.path for p in refused.value.problems] == ["nodes.app-1.placement"]


def test_a_service_reaches_each_backend_where_the_lab_can(demo_text):
    text = demo_text("docker-modes") + (
        "services:\n  web: {address: 198.18.0.200, port: 80, backends: [nginx-1, nginx-2, nginx-3, app-dyn, h2]}\n"
        "  dns: {address: 198.18.0.201, port: 53, protocol: udp, target_port: 5353, backends: [client]}\n"
    )
    spec, _ = compiled(text)
    web, dns = spec.services
    assert [(b.node, b.address, b.port) for b in web.backends] == [
        ("nginx-1", "198.18.0.11", 80),  # host mode: its host, its port
        ("nginx-2", "198.18.0.11", 10000),  # bridge mode: its host, the port it publishes
        ("nginx-3", "198.18.0.12", 10001),
        ("app-dyn", "198.18.0.12", 31000),  # host mode on PORT0, handed out
        ("h2", "198.18.0.12", 80),
    ]
    assert (dns.protocol, [(b.address, b.port) for b in dns.backends]) == ("udp", [("198.18.0.100", 5353)])


def test_a_service_backend_out_of_reach_is_refused_with_the_way_out(demo_text):
    text = demo_text("docker-modes") + (
        "services:\n  web: {address: 198.18.0.300, port: 80, backends: [app-1, nginx-2], target_port: 8080}\n"
    )
    with pytest.raises(TopologyError) as refused:
        compiled(text)
    found = {(p.path, p.message) for p in refused.value.problems}
    assert ("services.web.address", "'198.18.0.300' is not an IPv4 address") in found
    assert any(path == "services.web.backends[0]" and "overlay mode" in m for path, m in found)
    assert (
        "services.web.backends[1]",
        "nginx-2 publishes no host port for 8080: add 'auto:8080' to its ports",
    ) in found


def test_gateway_auto_routes_a_host_through_the_one_router_on_its_networks():
    text = """
name: gw
networks:
  lan: {kind: segment, subnet: 198.18.1.0/24}
  two: {kind: segment, subnet: 198.18.2.0/24}
nodes:
  r1: {kind: router, interfaces: {eth0: {network: lan, address: 198.18.1.1/24}, eth1: {network: two}}}
  r2: {kind: router, interfaces: {eth0: {network: two}}}
  pc1: {kind: host, interfaces: {eth0: {network: lan}}}
  pc2: {kind: host, interfaces: {eth0: {network: lan}}, gateway: none}
  pc3: {kind: host, interfaces: {eth0: {network: lan}}, routes: [{to: default, via: 198.18.1.9}]}
  pc4: {kind: host, interfaces: {eth0: {network: two}}}
  pc5: {kind: host}
  b: {kind: host}
links:
  - {endpoints: ['b:eth0', 'r2:eth1'], subnet: 198.18.3.0/30}
"""
    spec, assignments = compiled(text)
    routes = {s.name: [(r.to, r.via) for r in s.routes] for s in spec.sandboxes}
    assert routes["pc1"] == [("default", "198.18.1.1")]  # lan: r1 alone
    assert routes["pc2"] == []  # gateway: none
    assert routes["pc3"] == [("default", "198.18.1.9")]  # its own default stays the only one
    assert routes["pc4"] == []  # two routers on its network: which one is the author's to say
    assert routes["pc5"] == []  # no network at all
    b_via = routes["b"][0][1]
    assert routes["b"] == [("default", b_via)] and b_via == assignments.interfaces["r2:eth1"].split("/")[0]
    assert assignments.gateways["pc1"] == {"via": "198.18.1.1", "router": "r1"}
    assert set(assignments.gateways) == {"pc1", "b"}
