"""Peers' labs deployed for real: a zipped Kathará lab and a containerlab file, both written with
the images their tools use (run as Wirelab's node through the image rules), forward traffic
end to end as their startup commands set it up."""

import pytest

from tests.topology.test_kathara import zipped

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("seeded_rules"),
]


@pytest.fixture
def seeded_rules():
    """The image rules an installation starts with (a transactional test before may have
    emptied the table)."""
    import importlib

    from labs.models import ImageRule

    for pattern, use_instead, order, note in importlib.import_module(
        "labs.migrations.0007_image_rules"
    ).SEEDED:
        ImageRule.objects.get_or_create(
            pattern=pattern, defaults={"use_instead": use_instead, "order": order, "note": note}
        )


# pc1 - A - r1 - B - r2 - C - pc2, addresses and routes set by the startup files, as in Kathará
KATHARA_CHAIN = {
    "lab.conf": b"""LAB_NAME="static-chain"
pc1[0]="A"
r1[0]="A"
r1[1]="B"
r2[0]="B"
r2[1]="C"
pc2[0]="C"
r1[image]="kathara/base"
""",
    "shared.startup": b"ip link set lo up\n",
    "pc1.startup": b"ip addr add 10.1.0.10/24 dev eth0\nip route add default via 10.1.0.1\n",
    "r1.startup": b"ip addr add 10.1.0.1/24 dev eth0\nip addr add 10.2.0.1/24 dev eth1\nip route add 10.3.0.0/24 via 10.2.0.2\n",
    "r2.startup": b"ip addr add 10.2.0.2/24 dev eth0\nip addr add 10.3.0.1/24 dev eth1\nip route add 10.1.0.0/24 via 10.2.0.1\n",
    "pc2.startup": b"ip addr add 10.3.0.10/24 dev eth0\nip route add default via 10.3.0.1\n",
}

CONTAINERLAB_PAIR = """
name: clab-pair-${SUFFIX:=run}
topology:
  kinds:
    linux: {image: alpine:3}
  nodes:
    a: {kind: linux, exec: ['ip addr add 10.9.0.1/30 dev eth1']}
    b: {kind: linux, exec: ['ip addr add 10.9.0.2/30 dev eth1']}
  links:
    - type: veth
      endpoints: [{node: a, interface: eth1}, {node: b, interface: eth1}]
    - type: dummy
      endpoint: {node: a, interface: dummy0}
"""


def test_a_zipped_kathara_lab_runs_and_routes(labs_up, user, run_in):
    lab = labs_up(zipped(KATHARA_CHAIN, top="chain/"), user)
    assert lab.name == "static-chain" and lab.status == "running"
    code, out = run_in(lab.uid, "pc1", "ping -c 2 -W 3 10.3.0.10")
    assert code == 0, out
    code, out = run_in(lab.uid, "pc2", "traceroute -n -w 2 -q 1 10.1.0.10")
    hops = [line.split()[1] for line in out.splitlines()[1:] if line.split()]
    assert hops == ["10.3.0.1", "10.2.0.1", "10.1.0.10"], out


def test_a_containerlab_file_runs_with_its_defaults(labs_up, user, run_in):
    lab = labs_up(CONTAINERLAB_PAIR, user)
    assert lab.name == "clab-pair-run"
    code, out = run_in(lab.uid, "a", "ping -c 2 -W 3 10.9.0.2")
    assert code == 0, out
