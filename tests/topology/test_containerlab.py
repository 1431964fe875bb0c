"""containerlab import: linux nodes, defaults/kinds/groups, links, and warnings."""

import yaml

from topology.containerlab import import_containerlab
from topology.validation import validate


def test_linux_nodes_import_with_merged_defaults(fixture_text):
    doc, notes = import_containerlab(yaml.safe_load(fixture_text("clab-linux.yaml")))
    assert doc.name == "clab-pair"
    n1, n2 = doc.nodes["n1"], doc.nodes["n2"]
    assert (n1.kind, n1.image, n1.env) == ("host", "wirelab/node:busybox", {"ROLE": "lab"})
    # the node's own exec wins over its group's, as in containerlab
    assert n1.exec == ["ip addr add 198.18.20.1/24 dev eth1"]
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
