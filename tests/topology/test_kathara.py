"""Kathará labs: lab.conf and startup files in, a lab folder out; zips read within bounds."""

import io
import zipfile

import pytest
import yaml

from topology.document import parse_document
from topology.importing import read_lab_files
from topology.kathara import files_from_zip, import_kathara, to_kathara, zip_files
from topology.problems import TopologyError

# Our own equivalent of Kathará's classic OSPF example: three routers in a triangle of
# collision domains, a PC behind r1, an options line Wirelab has no use for, per-device folders.
OSPF_LAB = {
    "lab.conf": b"""LAB_NAME="ospf-triangle"
LAB_DESCRIPTION="Three routers speaking OSPF, a PC behind r1"
# routers
r1[0]="A"
r1[1]="B"
r1[2]="LAN1/00:00:00:00:01:01"
r1[image]="kathara/frr"
r2[0]="A"
r2[1]="C"
r2[image]="kathara/frr"
r2[bridged]=true
r3[0]="B"
r3[1]="C"
r3[image]='kathara/frr'
r3[env]="ROUTER_ID=3.3.3.3"
r3[port]="2000:80"
pc1[0]=LAN1
pc1[exec]="echo ready"
this line is not lab.conf
""",
    "shared.startup": b"ip link set lo up\n",
    "r1.startup": b"ip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
    b"ip addr add 192.168.1.1/24 dev eth2\n/etc/init.d/frr start\n",
    "r2.startup": b"ip addr add 10.0.1.2/24 dev eth0\nip addr add 10.0.3.2/24 dev eth1\n",
    "r3.startup": b"ip addr add 10.0.2.3/24 dev eth0\nip addr add 10.0.3.3/24 dev eth1\n",
    "pc1.startup": b"ip addr add 192.168.1.10/24 dev eth0\nip route add default via 192.168.1.1\n",
    "r1/etc/frr/frr.conf": b"router ospf\n network 10.0.0.0/8 area 0\n",
    "ghost.startup": b"echo nobody\n",
}


def test_an_ospf_lab_imports_device_by_device():
    doc, notes = import_kathara(OSPF_LAB)
    assert doc.name == "ospf-triangle" and "OSPF" in doc.description
    assert set(doc.nodes) == {"r1", "r2", "r3", "pc1"}
    assert {name: net.kind for name, net in doc.networks.items()} == dict.fromkeys(
        ["A", "B", "C", "LAN1"], "segment"
    )
    r1, r3, pc1 = doc.nodes["r1"], doc.nodes["r3"], doc.nodes["pc1"]
    assert (r1.kind, r1.image, pc1.kind, pc1.image) == ("router", "kathara/frr", "host", "kathara/base")
    assert {i: iface.network for i, iface in r1.interfaces.items()} == {
        "eth0": "A",
        "eth1": "B",
        "eth2": "LAN1",
    }
    # the shared startup first, then the device's, as one script run inside the device
    assert r1.exec == ["ip link set lo up\nip addr add 10.0.1.1/24 dev eth0\nip addr add 10.0.2.1/24 dev eth1\n"
                       "ip addr add 192.168.1.1/24 dev eth2\n/etc/init.d/frr start"]  # fmt: skip
    assert pc1.exec[-1] == "echo ready" and r3.env == {"ROUTER_ID": "3.3.3.3"}
    said = {n.path: n.message for n in notes}
    assert all(n.severity == "warning" for n in notes)
    assert "r2[bridged] is not carried over" in said["lab.conf line 11"]
    assert "r3[port] is not carried over" in said["lab.conf line 16"]
    assert "MAC address of r1's eth2" in said["lab.conf line 6"]
    assert "not understood" in said["lab.conf line 19"]
    assert "not carried over" in said["r1/etc/frr/frr.conf"]
    assert "'ghost' is not in lab.conf" in said["ghost.startup"]


def test_the_lab_validates_with_the_stand_in_for_kathara_images():
    files = {**OSPF_LAB, "lab.conf": OSPF_LAB["lab.conf"].replace(b"kathara/frr", b"kathara/base")}
    doc, problems = read_lab_files(files)
    assert [p for p in problems if p.severity == "error"] == []
    assert doc.nodes["r2"].kind == "router"


@pytest.mark.parametrize(
    ("files", "path"),
    [
        ({"r1.startup": b"x"}, "lab.conf"),
        ({"lab.conf": b'.hidden[0]="A"\n'}, "lab.conf line 1"),
        ({"lab.conf": b'r1[0]="../../etc"\n'}, "lab.conf line 1"),
        ({"lab.conf": b"\xff\xfe"}, "lab.conf"),
        ({"lab.conf": b'r1[0]="A"\n', "r1.startup": b"x" * 70_000}, "r1.startup"),
    ],
)
def test_what_cannot_be_a_lab_is_a_problem_at_its_place(files, path):
    with pytest.raises(TopologyError) as caught:
        import_kathara(files)
    assert caught.value.problems[0].path == path


def zipped(files: dict[str, bytes], top: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in files.items():
            archive.writestr(top + name, data)
    return out.getvalue()


def test_a_zipped_lab_folder_is_read_with_its_folder_stripped():
    files = files_from_zip(zipped(OSPF_LAB, top="ospf/"))
    assert files == OSPF_LAB


def test_zips_are_bounded_and_stay_in_their_folder():
    for archive, words in (
        (zipped({f"f{i}": b"" for i in range(201)}), "at most 200 files"),
        (zipped({"lab.conf": b"x" * 600_000, "a.startup": b"y" * 600_000}), "at most 1000000 bytes"),
        (zipped({"../lab.conf": b"x"}), "leaves the lab's folder"),
        (zipped({"/etc/lab.conf": b"x"}), "leaves the lab's folder"),
        (b"PK\x03\x04 not really", "not a readable zip"),
    ):
        with pytest.raises(TopologyError) as caught:
            files_from_zip(archive)
        assert words in caught.value.problems[0].message


def test_a_zip_claiming_small_sizes_is_still_cut_at_the_bound():
    big = io.BytesIO()
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("lab.conf", b"#" * 5_000_000)  # compresses to a few kilobytes
    with pytest.raises(TopologyError) as caught:
        files_from_zip(big.getvalue())
    assert "at most 1000000 bytes" in caught.value.problems[0].message


def test_export_writes_a_lab_folder_that_imports_back(demo_text):
    doc = parse_document(yaml.safe_load(demo_text("routed")))
    files, notes = to_kathara(doc)
    conf = files["lab.conf"]
    assert 'LAB_NAME="routed"' in conf and 'r1[0]="lan1"' in conf and 'r1[1]="lan2"' in conf
    assert files["r1.startup"].splitlines()[:3] == ["ip addr add 198.18.1.1/24 dev eth0",
                                                    "ip addr add 198.18.2.1/24 dev eth1",
                                                    "sysctl -w net.ipv4.ip_forward=1"]  # fmt: skip
    assert "ip route add default via 198.18.1.1" in files["h1.startup"]
    assert notes == []
    back, problems = read_lab_files(files_from_zip(zip_files(files, "routed")))
    assert set(back.nodes) == {"r1", "h1", "h2"} and set(back.networks) == {"lan1", "lan2"}
    assert back.nodes["r1"].kind == "router" and back.nodes["h1"].kind == "host"
    assert [p for p in problems if p.severity == "error"] == []


def test_export_renumbers_interfaces_and_turns_links_and_switches_into_domains():
    doc = parse_document({
        "name": "p2p",
        "nodes": {"a": {"kind": "router", "exec": ["ip link show e7"]}, "b": {"kind": "router"},
                  "sw": {"kind": "switch"}, "c": {"kind": "host"}},
        "links": [{"endpoints": ["a:e7", "b:eth3"], "subnet": "198.18.9.0/30"},
                  {"endpoints": ["b:eth4", "sw:p1"]}, {"endpoints": ["c:eth0", "sw:p2"]}],
    })  # fmt: skip
    files, notes = to_kathara(doc, {"a:e7": "198.18.9.1/30", "b:eth3": "198.18.9.2/30"})
    conf = files["lab.conf"].splitlines()
    assert {'a[0]="link0"', 'b[0]="link0"', 'b[1]="sw"', 'c[0]="sw"'} <= set(conf)
    assert not any(line.startswith("sw[") for line in conf)
    assert files["a.startup"].startswith("ip addr add 198.18.9.1/30 dev eth0\n")
    assert any("e7 -> eth0" in n.message for n in notes)


def test_export_never_lets_a_value_break_out_of_its_quotes():
    doc = parse_document(
        {
            "name": 'evil"\npc1[bridged]="true',
            "description": 'a "quoted"\nline',
            "nodes": {
                "pc1": {
                    "kind": "host",
                    "env": {"OK": "fine", "BAD": 'x"\npc1[bridged]="true'},
                    "image": "wirelab/node:busybox",
                }
            },
        }
    )
    files, notes = to_kathara(doc)
    conf = files["lab.conf"]
    lines = conf.splitlines()
    assert all(line.count('"') == 2 for line in lines), lines
    assert 'pc1[env]="OK=fine"' in lines and not any("BAD" in line for line in lines)
    assert [n.path for n in notes if "cannot hold a quote" in n.message] == ["nodes.pc1.env.BAD"]
