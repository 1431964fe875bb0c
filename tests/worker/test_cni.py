"""CNI networks run by the real reference plugins (Debian's containernetworking-plugins) in an
emulated host's namespace: the cni demo's bridge + host-local + portmap chain and its macvlan,
reached from the LAN, with their results; nothing of theirs in the lab host's own namespace, and
no IPAM state left after the lab."""

import subprocess

import pytest

from tests.conftest import DEMOS
from tests.worker.conftest import CONFIG, in_netns_of
from tests.worker.test_engine import fetch
from worker import cni
from worker.converge import destroy

CNI_DEMO = (DEMOS / "cni.yaml").read_text()
pytestmark = pytest.mark.kernel


def root_traces() -> list[str]:
    """Whatever of a CNI chain the lab host's own namespace shows: links, addresses, rules."""
    seen = []
    for command in (
        ["ip", "-o", "link"],
        ["ip", "-o", "addr"],
        ["iptables-save"],
        ["nft", "list", "ruleset"],
    ):
        out = subprocess.run(command, capture_output=True, text=True, check=False).stdout
        seen += [line for line in out.splitlines() if "cni" in line.lower() or "198.19.64." in line]
    return seen


def test_cni_bridge_portmap_and_macvlan_deploy_reach_and_leave_nothing(engine, run_in):
    before = root_traces()
    lab = engine(CNI_DEMO)
    assert lab.report.failed_nodes == {}

    # the chains' results, as the plugins gave them
    bridged, macvlan = lab.report.cni["web-cni"], lab.report.cni["web-mac"]
    assert (
        bridged["ips"][0]["address"].startswith("198.19.64.")
        and bridged["ips"][0]["gateway"] == "198.19.64.1"
    )
    assert {"cni0", "eth0"} <= {i["name"] for i in bridged["interfaces"]}
    assert macvlan["ips"][0]["address"] == "198.18.0.50/24"

    # the same server published by Wirelab's bridge mode, by the portmap plugin, and on the LAN
    assert fetch(run_in, lab.tag, "client", "http://198.18.0.11:10000/") == "web-bridge"
    assert fetch(run_in, lab.tag, "client", "http://198.18.0.12:10002/") == "web-cni"
    assert fetch(run_in, lab.tag, "client", "http://198.18.0.50/") == "web-mac"

    # what the plugins made lives in h2: its cni0 bridge and the portmap plugin's DNAT
    assert "cni0" in in_netns_of(lab.tag, "h2", ["ip", "-o", "link"])
    rules = in_netns_of(lab.tag, "h2", ["iptables-save", "-t", "nat"])
    assert "CNI-HOSTPORT-DNAT" in rules and "10002" in rules
    assert root_traces() == before

    # converging again: every chain CHECKs out, nothing is done again
    again = engine(CNI_DEMO, tag=lab.tag, previous=lab.assignments)
    assert again.report.changes == [] and again.report.cni["web-cni"] == bridged

    state = cni.lab_dir(CONFIG.lock_dir, lab.tag)
    assert sorted(p.name for p in state.iterdir()) == ["ipam", "web-cni.json", "web-mac.json"]
    destroy(lab.tag, "local", config=CONFIG)
    assert not state.exists()
    assert root_traces() == before


def test_a_container_leaving_its_cni_network_is_deleted_from_it_and_its_address_freed(engine, run_in):
    lab = engine(CNI_DEMO)
    ipam = cni.lab_dir(CONFIG.lock_dir, lab.tag) / "ipam" / "cni-br"
    given = lab.report.cni["web-cni"]["ips"][0]["address"].split("/")[0]
    assert (ipam / given).exists()
    moved = CNI_DEMO.replace("mode: cni:cni-br", "mode: bridge").replace("'10002:80'", "'10003:80'")
    report = engine(moved, tag=lab.tag, previous=lab.assignments).report
    assert "web-cni: CNI networking deleted" in report.changes
    assert not (ipam / given).exists()
    rules = in_netns_of(lab.tag, "h2", ["iptables-save", "-t", "nat"])
    assert "10002" not in rules
    assert fetch(run_in, lab.tag, "client", "http://198.18.0.12:10003/") == "web-cni"


def test_a_chain_failing_halfway_is_deleted_whole_and_its_container_says_why(engine):
    broken = CNI_DEMO.replace(
        "        - {type: portmap, capabilities: {portMappings: true}, snat: true}",
        "        - {type: portmap, capabilities: {portMappings: true}, snat: true}\n"
        "        - {type: tuning, sysctl: {net.ipv4.conf.eth0.no_such_setting: '1'}}",
    )
    lab = engine(broken)
    failed = lab.report.nodes["web-cni"]
    assert failed.state == "failed" and "CNI plugin tuning (ADD)" in failed.reason, failed
    assert lab.report.nodes["web-mac"].state == "running"  # the rest of the lab is up
    ipam = cni.lab_dir(CONFIG.lock_dir, lab.tag) / "ipam" / "cni-br"
    assert not [p for p in ipam.glob("198.19.64.*")]  # the bridge's address given back
    assert "10002" not in in_netns_of(lab.tag, "h2", ["iptables-save", "-t", "nat"])
