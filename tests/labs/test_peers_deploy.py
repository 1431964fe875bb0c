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

    from django.apps import apps

    from labs.models import ImageRule

    for pattern, use_instead, order, note in importlib.import_module(
        "labs.migrations.0007_image_rules"
    ).SEEDED:
        ImageRule.objects.get_or_create(
            pattern=pattern, defaults={"use_instead": use_instead, "order": order, "note": note}
        )
    importlib.import_module("labs.migrations.0012_image_rules_debian_frr").forwards(apps, None)


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


def frr_conf(router_id: str, interfaces: list[str]) -> str:
    """An OSPF configuration with fast timers on point-to-point links."""
    stanzas = "".join(
        f"interface {i}\n ip ospf network point-to-point\n ip ospf hello-interval 1\n ip ospf dead-interval 4\n"
        for i in interfaces
    )
    return f"{stanzas}router ospf\n ospf router-id {router_id}\n network 10.0.0.0/8 area 0\n"


def startup_with_frr(addresses: dict[str, str], conf: str) -> bytes:
    """A Kathará startup file as such labs write them: addresses, FRR's configuration, FRR started."""
    lines = [f"ip addr add {address} dev {iface}" for iface, address in addresses.items()]
    lines += [f"cat > /etc/frr/frr.conf <<'EOF'\n{conf}EOF", "/etc/init.d/frr start"]
    return ("\n".join(lines) + "\n").encode()


# Kathará's classic OSPF lab, our own: three routers in a triangle (A, B, C) and a LAN each.
KATHARA_OSPF = {
    "lab.conf": b"""LAB_NAME="ospf-triangle"
r1[0]="A"
r1[1]="C"
r1[2]="L1"
r2[0]="A"
r2[1]="B"
r3[0]="B"
r3[1]="C"
r3[2]="L3"
pc3[0]="L3"
r1[image]="kathara/frr"
r2[image]="kathara/frr"
r3[image]="kathara/frr"
""",
    "r1.startup": startup_with_frr(
        {"eth0": "10.0.12.1/30", "eth1": "10.0.13.1/30", "eth2": "10.1.0.1/24"},
        frr_conf("1.1.1.1", ["eth0", "eth1"]),
    ),
    "r2.startup": startup_with_frr(
        {"eth0": "10.0.12.2/30", "eth1": "10.0.23.1/30"}, frr_conf("2.2.2.2", ["eth0", "eth1"])
    ),
    "r3.startup": startup_with_frr(
        {"eth0": "10.0.23.2/30", "eth1": "10.0.13.2/30", "eth2": "10.3.0.1/24"},
        frr_conf("3.3.3.3", ["eth0", "eth1"]),
    ),
    "pc3.startup": b"ip addr add 10.3.0.10/24 dev eth0\nip route add default via 10.3.0.1\n",
}


# Kathará's classic BGP lab, our own: two autonomous systems on one domain, a LAN each.
def bgp_conf(asn: int, router_id: str, peer: str, peer_asn: int, lan: str) -> str:
    return (
        f"router bgp {asn}\n bgp router-id {router_id}\n no bgp ebgp-requires-policy\n"
        f" neighbor {peer} remote-as {peer_asn}\n neighbor {peer} timers 1 3\n"
        f" neighbor {peer} timers connect 1\n address-family ipv4 unicast\n  network {lan}\n"
        " exit-address-family\n"
    )


KATHARA_BGP = {
    "lab.conf": b"""LAB_NAME="two-as"
as1[0]="X"
as1[1]="L1"
as2[0]="X"
as2[1]="L2"
as1[image]="kathara/frr"
as2[image]="kathara/frr"
""",
    "as1.startup": startup_with_frr(
        {"eth0": "10.0.0.1/30", "eth1": "10.1.0.1/24"},
        bgp_conf(65001, "1.1.1.1", "10.0.0.2", 65002, "10.1.0.0/24"),
    ),
    "as2.startup": startup_with_frr(
        {"eth0": "10.0.0.2/30", "eth1": "10.2.0.1/24"},
        bgp_conf(65002, "2.2.2.2", "10.0.0.1", 65001, "10.2.0.0/24"),
    ),
}

# containerlab's frr01-style lab, our own: FRR routers in a line, configured by their exec lines.
CONTAINERLAB_FRR = """
name: frr01
topology:
  defaults: {kind: linux, image: frrouting/frr:v8.4.0}
  nodes:
    router1:
      exec:
        - ip addr add 10.0.12.1/30 dev eth1
        - ip addr add 10.1.0.1/24 dev lo
        - sh -c "printf 'router ospf\\n network 10.0.0.0/8 area 0\\n' > /etc/frr/frr.conf"
        - /etc/init.d/frr restart
    router2:
      exec:
        - ip addr add 10.0.12.2/30 dev eth1
        - sh -c "printf 'router ospf\\n network 10.0.0.0/8 area 0\\n' > /etc/frr/frr.conf"
        - /etc/init.d/frr restart
  links:
    - endpoints: ["router1:eth1", "router2:eth1"]
"""


def ospf_route(run_in, tag: str, node: str, prefix: str) -> str:
    code, out = run_in(tag, node, f"ip route show {prefix} proto ospf")
    return out.strip() if code == 0 else ""


def test_a_kathara_ospf_lab_runs_on_wirelabs_frr_and_reroutes(labs_up, user, run_in):
    from tests.labs.live_helpers import cable
    from tests.waiting import wait_for

    lab = labs_up(zipped(KATHARA_OSPF, top="ospf/"), user)
    assert lab.status == "running", lab.status_reason
    direct = "via 10.0.13.2"  # the link to r3
    wait_for(lambda: direct in ospf_route(run_in, lab.tag, "r1", "10.3.0.0/24"), 90, "r1's OSPF route")
    wait_for(lambda: run_in(lab.tag, "r1", "ping -c 1 -W 2 10.3.0.10")[0] == 0, 30, "r1 to reach pc3")
    cable(lab.id, [("r1", "eth1")], plugged=False)  # r1 - r3 pulled
    wait_for(
        lambda: "via 10.0.12.2" in ospf_route(run_in, lab.tag, "r1", "10.3.0.0/24"), 60, "the way via r2"
    )


def test_a_kathara_bgp_lab_runs_on_wirelabs_frr(labs_up, user, run_in):
    from tests.waiting import wait_for

    lab = labs_up(zipped(KATHARA_BGP, top="bgp/"), user)
    assert lab.status == "running", lab.status_reason
    shown = lambda: run_in(lab.tag, "as1", "ip route show 10.2.0.0/24 proto bgp")[1]  # noqa: E731
    assert "via 10.0.0.2" in wait_for(shown, 90, "as1's BGP route to AS 65002's LAN")


def test_a_containerlab_frr_lab_runs_on_wirelabs_frr(labs_up, user, run_in):
    from tests.waiting import wait_for

    lab = labs_up(CONTAINERLAB_FRR, user)
    assert lab.status == "running", lab.status_reason
    route = wait_for(lambda: ospf_route(run_in, lab.tag, "router2", "10.1.0.1"), 90, "router2's OSPF route")
    assert "via 10.0.12.1" in route, route


def test_a_zipped_kathara_lab_runs_and_routes(labs_up, user, run_in):
    lab = labs_up(zipped(KATHARA_CHAIN, top="chain/"), user)
    assert lab.name == "static-chain" and lab.status == "running"
    code, out = run_in(lab.tag, "pc1", "ping -c 2 -W 3 10.3.0.10")
    assert code == 0, out
    code, out = run_in(lab.tag, "pc2", "traceroute -n -w 2 -q 1 10.1.0.10")
    hops = [line.split()[1] for line in out.splitlines()[1:] if line.split()]
    assert hops == ["10.3.0.1", "10.2.0.1", "10.1.0.10"], out


def test_a_containerlab_file_runs_with_its_defaults(labs_up, user, run_in):
    lab = labs_up(CONTAINERLAB_PAIR, user)
    assert lab.name == "clab-pair-run"
    code, out = run_in(lab.tag, "a", "ping -c 2 -W 3 10.9.0.2")
    assert code == 0, out
