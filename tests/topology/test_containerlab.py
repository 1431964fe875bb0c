"""containerlab files: import (linux nodes, defaults/kinds/groups, links, variables, warnings) and export."""

import os

import pytest
import yaml

from topology.containerlab import import_containerlab, to_containerlab
from topology.document import parse_document
from topology.importing import read_lab
from topology.problems import TopologyError
from topology.validation import validate


def test_linux_nodes_import_with_merged_defaults(fixture_text):
    doc, notes = import_containerlab(yaml.safe_load(fixture_text("clab-linux.yaml")))
    assert doc.name == "clab-pair"
    n1, n2 = doc.nodes["n1"], doc.nodes["n2"]
    assert (n1.kind, n1.image, n1.env) == ("host", "wirelab/node:busybox", {"ROLE": "lab"})
    # exec lists are joined, defaults, kind, group then node, as containerlab does
    assert n1.exec == ["ip link set eth1 up", "ip addr add 198.18.20.1/24 dev eth1"]
    assert n2.env == {"ROLE": "lab", "NAME": "n2"}
    assert doc.nodes["br"].kind == "switch"
    assert [link.endpoints for link in doc.links] == [["n1:eth1", "n2:eth1"], ["n2:eth2", "br:p1"]]
    assert validate(doc) == []
    paths = {note.path for note in notes}
    assert {"mgmt", "topology.nodes.n2.binds", "topology.links[2]", "topology.nodes.br"} <= paths
    assert all(note.severity == "warning" for note in notes)


def test_endpoint_mappings_of_newer_files():
    data = {
        "name": "x",
        "topology": {
            "nodes": {"a": {"kind": "linux", "image": "i"}, "b": {"kind": "linux", "image": "i"}},
            "links": [
                {
                    "type": "veth",
                    "endpoints": [{"node": "a", "interface": "e1"}, {"node": "b", "interface": "e1"}],
                }
            ],
        },
    }
    doc, notes = import_containerlab(data)
    assert doc.links[0].endpoints == ["a:e1", "b:e1"]
    assert notes == []


def test_other_kinds_become_hosts_with_a_warning():
    doc, notes = import_containerlab({"name": "x", "topology": {"nodes": {"r": {"kind": "nokia_srlinux"}}}})
    assert doc.nodes["r"].kind == "host"
    assert "nokia_srlinux" in notes[0].message


# Our own equivalent of containerlab's FRR examples: three routers in a triangle, the newer
# endpoint form beside the brief one, a management network and a host link left out.
FRR_TRIANGLE = """
name: frr-triangle
mgmt: {network: ${MGMT_NET:=clab-mgmt}}
topology:
  defaults:
    group: routers
    env: {LAB: ${LAB_NAME:=triangle}, HOLD: 3}
    exec: [sysctl -w net.ipv4.ip_forward=1]
  kinds:
    linux:
      image: frrouting/frr:v8.4.0
      exec: [touch /etc/frr/vtysh.conf]
  groups:
    routers:
      kind: linux
      binds: [router.daemons:/etc/frr/daemons]
      exec: [ip link set lo up]
  nodes:
    r1:
      exec: [ip addr add 10.0.12.1/30 dev eth1]
      ports: [8080:22, 2222:22]
      env: {DEBUG: yes}
    r2: {}
    r3: {group: edge, kind: linux}
    pc: {kind: linux, image: alpine:3, group: ""}
  links:
    - endpoints: [r1:eth1, r2:eth1]
    - type: veth
      endpoints: [{node: r2, interface: eth2}, {node: r3, interface: eth1}]
    - endpoints: [r3:eth2, r1:eth2]
    - endpoints: [pc:eth1, r1:eth3]
    - type: host
      endpoint: {node: r1, interface: eth9}
      host-interface: r1-eth9
    - type: mgmt-net
      endpoint: {node: r2, interface: eth9}
      host-interface: r2-eth9
    - type: macvlan
      endpoint: {node: r3, interface: eth9}
      host-interface: enp0s3
    - type: dummy
      endpoint: {node: pc, interface: eth9}
    - type: vxlan
      endpoint: {node: pc, interface: eth8}
      remote: 192.0.2.1
      vni: 100
"""


def test_a_frr_triangle_merges_as_containerlab_does(monkeypatch):
    monkeypatch.setenv("LAB_NAME", "from-the-server")  # never read: defaults only
    doc, notes = read_lab(FRR_TRIANGLE)
    assert set(doc.nodes) == {"r1", "r2", "r3", "pc"}
    r1, r3, pc = doc.nodes["r1"], doc.nodes["r3"], doc.nodes["pc"]
    assert r1.image == "frrouting/frr:v8.4.0" and pc.image == "alpine:3"
    assert r1.exec == ["sysctl -w net.ipv4.ip_forward=1", "touch /etc/frr/vtysh.conf", "ip link set lo up",
                       "ip addr add 10.0.12.1/30 dev eth1"]  # fmt: skip
    assert r3.exec == [
        "sysctl -w net.ipv4.ip_forward=1",
        "touch /etc/frr/vtysh.conf",
    ]  # group 'edge' is not there
    # an empty group is no group: the defaults' group applies, as in containerlab
    assert pc.exec == ["sysctl -w net.ipv4.ip_forward=1", "touch /etc/frr/vtysh.conf", "ip link set lo up"]
    assert r1.env == {"LAB": "triangle", "HOLD": "3", "DEBUG": "true"}
    assert [link.endpoints for link in doc.links] == [
        ["r1:eth1", "r2:eth1"], ["r2:eth2", "r3:eth1"], ["r3:eth2", "r1:eth2"], ["pc:eth1", "r1:eth3"]
    ]  # fmt: skip
    said = {(n.path, n.severity): n.message for n in notes}
    assert all(n.severity == "warning" for n in notes if n.path.startswith("topology") or n.path == "mgmt")
    for index, kind in ((4, "host"), (5, "mgmt-net"), (6, "macvlan"), (7, "dummy"), (8, "vxlan")):
        assert f"a '{kind}' link reaches outside the lab" in said[(f"topology.links[{index}]", "warning")]
    assert "ports 8080:22, 2222:22 are published" in said[("topology.nodes.r1.ports", "warning")]
    assert ("topology.nodes.r1.binds", "warning") in said  # from the group, named at the node
    assert not [n for n in notes if n.severity == "error"]
    assert "from-the-server" not in str(doc.model_dump()) and os.environ["LAB_NAME"] == "from-the-server"


def test_a_variable_without_default_is_left_and_said():
    doc, notes = read_lab(
        "name: v\ntopology:\n  nodes:\n    a: {kind: linux, image: alpine:3, exec: ['echo ${HOME}']}\n"
    )
    assert doc.nodes["a"].exec == ["echo ${HOME}"]
    assert any("${HOME} has no default" in n.message for n in notes)


def test_a_topology_template_is_refused_with_the_way_out():
    template = (
        "name: t\ntopology:\n  nodes:\n{{- range $i := seq 1 3 }}\n    n{{ $i }}: {kind: linux}\n{{- end }}\n"
    )
    with pytest.raises(TopologyError) as caught:
        read_lab(template)
    assert "render it with containerlab first" in caught.value.problems[0].message


def test_bad_links_are_problems_at_their_place():
    for link, path in (
        ({"type": "veth", "endpoints": [{"node": "a"}, "b:e1"]}, "topology.links[0].endpoints[0]"),
        ({"endpoints": ["a:e1"]}, "topology.links[0].endpoints"),
        ({"endpoints": ["a", "b:e1"]}, "topology.links[0].endpoints[0]"),
        ({"type": "wormhole", "endpoints": ["a:e1", "b:e1"]}, "topology.links[0].type"),
    ):
        with pytest.raises(TopologyError) as caught:
            import_containerlab({"name": "x", "topology": {"nodes": {"a": {}, "b": {}}, "links": [link]}})
        assert caught.value.problems[0].path == path


def test_export_runs_the_same_lab_in_containerlab_and_comes_back(demo_text):
    doc = parse_document(yaml.safe_load(demo_text("routed")))
    data, notes = to_containerlab(doc)
    nodes = data["topology"]["nodes"]
    assert nodes["lan1"] == {"kind": "bridge"} and nodes["r1"]["kind"] == "linux"
    assert nodes["r1"]["exec"][:3] == ["ip addr add 198.18.1.1/24 dev eth0", "ip addr add 198.18.2.1/24 dev eth1",
                                       "sysctl -w net.ipv4.ip_forward=1"]  # fmt: skip
    assert "ip route add default via 198.18.1.1" in nodes["h1"]["exec"]
    assert {"endpoints": ["h1:eth0", "lan1:p1"]} in data["topology"]["links"] or \
        {"endpoints": ["r1:eth0", "lan1:p1"]} in data["topology"]["links"]  # fmt: skip
    assert any("bridge nodes are Linux bridges" in n.message for n in notes)
    back, _ = read_lab(yaml.safe_dump(data))
    assert set(back.nodes) == {"r1", "h1", "h2", "lan1", "lan2"}
    assert back.nodes["lan1"].kind == "switch" and len(back.links) == 4


def test_export_leaves_out_containers_on_hosts_with_a_warning(demo_text):
    doc = parse_document(yaml.safe_load(demo_text("docker-modes")))
    data, notes = to_containerlab(doc, {"h1:eth0": "198.18.0.11/24"})
    assert "nginx-2" not in data["topology"]["nodes"] and "h1" in data["topology"]["nodes"]
    assert any(n.path == "nodes.nginx-2" for n in notes) and any(n.path == "networks.ov" for n in notes)
