"""Input that once answered 500 or ran away: each is refused with a problem naming where."""

import time

import pytest

from topology.importing import read_lab
from topology.problems import TopologyError
from topology.validation import validate_text


def problems_of(text: str, max_bytes: int = 1_000_000) -> list:
    try:
        _, problems = read_lab(text, max_bytes)
    except TopologyError as exc:
        return exc.problems
    return [p for p in problems if p.severity == "error"]


def test_yaml_aliases_are_refused_before_they_expand():
    bomb = "name: b\nx: &a [h, h, h, h, h, h, h, h]\n" + "".join(
        f"y{i}: &a{i} [{', '.join(['*a' if i == 0 else f'*a{i - 1}'] * 8)}]\n" for i in range(8)
    )
    start = time.monotonic()
    problems = problems_of(bomb)
    assert time.monotonic() - start < 5  # refused while parsing, not after expanding
    assert any("aliases" in p.message for p in problems)


def test_a_document_of_too_many_values_is_refused():
    text = "name: big\nnodes: {}\nextra: [" + ", ".join(["1"] * 500_000) + "]\n"
    problems = problems_of(text, max_bytes=5_000_000)  # under the size limit, over the count
    assert any("more than" in p.message for p in problems)


@pytest.mark.parametrize(
    ("clab", "path"),
    [
        ("name: c\ntopology:\n  defaults: [1, 2]\n  nodes: {a: {}}\n", "topology.defaults"),
        ("name: c\ntopology:\n  nodes: {a: {kind: [linux]}}\n", "topology.nodes.a.kind"),
        ("name: c\ntopology:\n  nodes: {a: {exec: 5}}\n", "topology.nodes.a.exec"),
        ("name: c\ntopology:\n  kinds: {linux: 3}\n  nodes: {a: {}}\n", "topology.kinds.linux"),
        ("name: c\ntopology:\n  nodes: {a: {group: {x: 1}}}\n", "topology.nodes.a.group"),
        ("name: c\ntopology:\n  nodes: {a: {}}\n  links: {x: 1}\n", "topology.links"),
        ("name: c\ntopology:\n  nodes: {a: {env: [1]}}\n", "topology.nodes.a.env"),
    ],
)
def test_malformed_containerlab_files_are_problems(clab, path):
    assert path in [p.path for p in problems_of(clab)]


@pytest.mark.parametrize(
    ("network", "message"),
    [
        ("{kind: bridge, host: h1}", "needs a subnet"),
        ("{kind: bridge, host: h1, subnet: 198.19.5.1/32}", "too small"),
        ("{kind: overlay, subnet: 198.19.5.0/31}", "too small"),
    ],
)
def test_bridge_and_overlay_subnets_leave_room(network, message):
    _, problems = validate_text(f"name: n\nnetworks:\n  br: {network}\nnodes:\n  h1: {{kind: host}}\n")
    assert any(p.path == "networks.br.subnet" and message in p.message for p in problems), problems


def test_interfaces_per_node_are_capped():
    ifaces = ", ".join(f"e{i}: {{network: lan}}" for i in range(65))
    text = f"name: n\nnetworks:\n  lan: {{kind: segment}}\nnodes:\n  h1: {{kind: host, interfaces: {{{ifaces}}}}}\n"
    _, problems = validate_text(text)
    assert any(p.path == "nodes.h1.interfaces" and "at most 64" in p.message for p in problems)
