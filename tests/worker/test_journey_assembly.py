"""Putting a journey together from what was captured, without a kernel: the probe's packets told
apart from other traffic, legs, rewrites between sightings, and how it ended."""

from worker.frames import Packet
from worker.journey.assembly import classify, hops, outcome
from worker.journey.capture import Asked, Sighting
from worker.journey.compare import parting, way_of
from worker.journey.probe import Probe

ISN = 1000


def seen(order: int, node: str, packet: Packet, outgoing: bool, cable: str = "") -> Sighting:
    return Sighting(
        at=order / 1000, order=order, node=node, iface="eth0", cable=cable, outgoing=outgoing, packet=packet
    )


def syn(src, sport, dst, dport, seq=ISN) -> Packet:
    return Packet("tcp", src, dst, sport, dport, 64, "S", seq, 0)


def synack(src, sport, dst, dport) -> Packet:
    return Packet("tcp", src, dst, sport, dport, 64, "SA", 77, ISN + 1)


def test_a_published_port_dnat_and_its_undoing():
    probe = Probe("tcp", "198.18.0.11", 10000, source=("198.18.0.100", 40000), outcome="reached")
    captured = [
        seen(1, "client", syn("198.18.0.100", 40000, "198.18.0.11", 10000), True),
        seen(2, "", syn("198.18.0.100", 40000, "198.18.0.11", 10000), False, "client:eth0"),
        seen(3, "h1", syn("198.18.0.100", 40000, "198.18.0.11", 10000), False),
        seen(4, "h1", syn("198.18.0.100", 40000, "198.19.0.2", 80), True),
        seen(5, "h1", syn("198.18.0.100", 40001, "198.18.0.99", 80, 5), True),  # another program's
        seen(6, "nginx-2", syn("198.18.0.100", 40000, "198.19.0.2", 80), False),
        seen(7, "nginx-2", synack("198.19.0.2", 80, "198.18.0.100", 40000), True),
        seen(8, "h1", synack("198.18.0.11", 10000, "198.18.0.100", 40000), True),
        seen(9, "client", synack("198.18.0.11", 10000, "198.18.0.100", 40000), False),
    ]
    mine = classify(list(reversed(captured)), probe)  # ordered by time, whatever the read order
    assert [s.order for s in mine] == [1, 2, 3, 4, 6, 7, 8, 9]
    assert [s.leg for s in mine] == ["request"] * 5 + ["reply"] * 3
    journey = hops(mine, 0.0)
    rewrites = [
        (h["node"], h["rewrite"]["kind"], h["rewrite"]["from"], h["rewrite"]["to"])
        for h in journey
        if "rewrite" in h
    ]
    assert rewrites == [
        ("h1", "DNAT", "198.18.0.11:10000", "198.19.0.2:80"),
        ("h1", "un-DNAT", "198.19.0.2:80", "198.18.0.11:10000"),
    ]
    assert journey[1]["cable"] == "client:eth0" and journey[1]["node"] == ""
    assert outcome(probe, mine, "client") == {
        "result": "reached",
        "at": "nginx-2",
        "reason": "nginx-2 answered",
    }


def test_how_a_probe_that_got_no_answer_ended():
    probe = Probe("tcp", "198.18.0.77", 80, source=("198.18.0.100", 40000), outcome="timeout")
    asked = [Asked("client", "eth0", "198.18.0.77")]
    assert (
        outcome(probe, [], "client", asked)["reason"]
        == "nobody answered client's ARP for 198.18.0.77 on eth0"
    )
    assert outcome(probe, [], "client")["result"] == "timeout"
    left = [seen(1, "client", syn("198.18.0.100", 40000, "198.18.0.77", 80), True)]
    lost = outcome(probe, classify(left, probe), "client")
    assert lost == {"result": "lost", "at": "client", "reason": "last seen at client:eth0, then no answer"}
    refused = Probe("tcp", "198.18.0.12", 81, source=("198.18.0.100", 40000), outcome="refused")
    reset = Packet("tcp", "198.18.0.12", "198.18.0.100", 81, 40000, 64, "AR", 0, ISN + 1)
    mine = classify([left[0], seen(2, "h2", reset, True)], refused)
    assert outcome(refused, mine, "client")["at"] == "h2"
    no_route = Probe("icmp", "10.9.9.9", outcome="no-route")
    assert outcome(no_route, [], "client")["reason"] == "client has no route to 10.9.9.9"


def test_a_way_is_the_request_s_steps_through_nodes_and_parts_where_the_reference_goes_on():
    journey = {
        "hops": [
            {"leg": "request", "node": "client", "iface": "eth0", "direction": "out"},
            {"leg": "request", "node": "", "iface": "c3f1a", "direction": "in"},  # the fabric
            {"leg": "request", "node": "h1", "iface": "eth0", "direction": "in"},
            {"leg": "reply", "node": "h1", "iface": "eth0", "direction": "out"},
        ]
    }
    mine = way_of(journey)
    assert mine == [["client", "eth0", "out"], ["h1", "eth0", "in"]]
    reference = [*mine, ["h1", "docker0", "out"], ["web", "eth0", "in"]]
    assert parting(mine, reference) == "the reference leaves h1 through docker0"
    astray = [*mine, ["h1", "eth1", "out"]]
    assert (
        parting(astray, reference) == "the reference leaves h1 through docker0, yours leaves h1 through eth1"
    )
    assert (
        parting(reference, reference)
        == "the reference's probe takes this same way to web: what differs is there"
    )
    assert parting(mine, []) == ""
    assert parting([*reference, ["web", "lo", "out"]], reference) == ""
    elsewhere = [["client", "eth0", "out"], ["r9", "eth0", "in"]]
    assert parting(elsewhere, reference) == (
        "the reference goes on to h1 (in through eth0), yours goes on to r9 (in through eth0)"
    )
