"""Address and port management: automatic, stable, and never on a static address."""

from topology.addressing import Assignments
from topology.document import read_document
from topology.validation import check

LAB = """
name: a
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
  ov: {kind: overlay, subnet: 198.19.128.0/24}
nodes:
  h1: {kind: host, port_range: 31000-31009, interfaces: {eth0: {network: lan}}}
  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.2/24}}}
  h3: {kind: host, interfaces: {eth0: {network: lan}}}
  b1: {kind: container, host: h1, image: i, ports: ['auto:80', '31000:81']}
  m1: {kind: container, host: h1, image: i, mode: host, ports: [auto, auto]}
  o1: {kind: container, host: h1, image: i, mode: 'overlay:ov'}
  o2: {kind: container, host: h2, image: i, mode: 'overlay:ov'}
"""


def assigned(text, previous=None):
    result, problems = check(read_document(text), previous)
    assert [p for p in problems if p.severity == "error"] == []
    return result


def test_automatic_addresses_skip_static_ones():
    got = assigned(LAB)
    assert got.interfaces == {"h1:eth0": "198.18.0.1/24", "h3:eth0": "198.18.0.3/24"}


def test_bridge_and_overlay_pools_reserve_their_gateway():
    got = assigned(LAB)
    assert got.containers == {
        "b1": "198.19.0.2/24",
        "o1": "198.19.128.2/24",
        "o2": "198.19.128.3/24",
    }


def test_a_docker_host_with_bridge_mode_containers_is_given_its_docker0_address():
    got = assigned(
        LAB
        + "  b2: {kind: container, host: h3, image: i}\n"
        + "  n3: {kind: container, host: h2, image: i, mode: none}\n"
    )
    assert got.bridges == {"h1:docker0": "198.19.0.1/24", "h3:docker0": "198.19.0.1/24"}  # h2 has none
    walled = LAB.replace("  lan:", "  br1: {kind: bridge, host: h1, subnet: 172.30.0.0/24}\n  lan:")
    assert assigned(walled).bridges == {"h1:docker0": "172.30.0.1/24"}  # its own bridge network's


def test_dynamic_ports_come_from_the_host_range_without_clashes():
    got = assigned(LAB)
    # 31000 is published statically by b1, so the automatic ones take the rest.
    assert got.ports == {"b1:0": 31001, "m1:0": 31002, "m1:1": 31003}


def test_a_full_port_range_is_an_error_on_the_port():
    _, problems = check(read_document(LAB.replace("31000-31009", "31000-31002")))
    assert [str(p) for p in problems] == [
        "error: nodes.m1.ports[1]: no free port is left in host h1's range 31000-31002"
    ]


def test_adding_a_node_never_renumbers_the_others():
    first = assigned(LAB)
    text = LAB.replace("  h3:", "  h0: {kind: host, interfaces: {eth0: {network: lan}}}\n  h3:").replace(
        "  o1:", "  o0: {kind: container, host: h2, image: i, mode: 'overlay:ov'}\n  o1:"
    )
    second = assigned(text, first)
    for key, value in first.interfaces.items():
        assert second.interfaces[key] == value
    for key, value in first.containers.items():
        assert second.containers[key] == value
    assert second.interfaces["h0:eth0"] == "198.18.0.4/24"
    assert second.containers["o0"] == "198.19.128.4/24"


def test_a_previous_address_that_became_static_elsewhere_is_given_up():
    first = assigned(LAB)
    text = LAB.replace("address: 198.18.0.2/24", "address: 198.18.0.3/24")
    second = assigned(text, first)
    assert second.interfaces["h3:eth0"] != "198.18.0.3/24"


def test_assignments_round_trip_as_plain_data():
    got = assigned(LAB)
    assert Assignments.from_dict(got.as_dict()) == got
