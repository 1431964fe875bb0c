"""A host's NAT as its kernel has it, read through the lab host: the docker-modes demo's DNAT
for h1:10000 and its masquerade, their counters rising with traffic, and conntrack's rewrite."""

import pytest

from labs import controls
from labs.hostside.jobs import carry_out
from tests.conftest import DEMOS

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


def nat_of(lab, node, user):
    op = carry_out(controls.request_nat(lab, node, user).id)
    assert op.status == "succeeded", op.error
    return op.result


def rule(view, chain, words):
    found = [r for r in view["rules"] if r["chain"] == chain and words in r["rule"]]
    assert len(found) == 1, view["rules"]
    return found[0]


def test_the_nat_table_and_its_counters_and_the_rewrite_of_a_connection(labs_up, user, run_in):
    lab = labs_up((DEMOS / "docker-modes.yaml").read_text(), user)
    nginx2 = lab.assignments["containers"]["nginx-2"].split("/")[0]
    before = nat_of(lab, "h1", user)
    dnat = rule(before, "prerouting", f"tcp dport 10000 dnat to {nginx2}:80")
    masquerade = rule(before, "postrouting", "masquerade")
    assert "ip saddr 198.19.0.0/24" in masquerade["rule"]

    code, out = run_in(lab.tag, "client", "wget -qO- http://198.18.0.11:10000/")
    assert code == 0 and "nginx-2" in out
    code, out = run_in(lab.tag, "nginx-2", "ping -c 1 -W 3 198.18.0.100")  # out through the masquerade
    assert code == 0, out

    after = nat_of(lab, "h1", user)
    assert rule(after, "prerouting", "tcp dport 10000")["packets"] > dnat["packets"]
    assert rule(after, "postrouting", "masquerade")["packets"] > masquerade["packets"]
    published = [c for c in after["connections"] if c["original"].get("dport") == "10000"]
    assert published and published[0]["dnat"], after["connections"]
    assert published[0]["original"]["dst"] == "198.18.0.11"
    assert (published[0]["reply"]["src"], published[0]["reply"]["sport"]) == (nginx2, "80")
    outbound = [c for c in after["connections"] if c["protocol"] == "icmp" and c["snat"]]
    assert outbound and outbound[0]["reply"]["dst"] == "198.18.0.11", after["connections"]

    client = nat_of(lab, "client", user)  # a host that publishes nothing has no NAT rules
    assert client["rules"] == []
    with pytest.raises(controls.ControlRefused):
        controls.request_nat(lab, "nginx-2", user)  # a container is not an emulated host
