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
    assert app.env == {"PORT0": "31000", "PORT": "31000"}
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
