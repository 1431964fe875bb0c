"""Reading an emulated host's NAT: the rules as nft prints them, and conntrack's tuples."""

from worker.natview import parse_conntrack, parse_rules

NFT = """table ip wirelab {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\ttcp dport 10000 counter packets 3 bytes 180 dnat to 198.19.0.2:80 comment "wl:abc publish nginx-2"
\t}

\tchain output {
\t\ttype nat hook output priority -100; policy accept;
\t\tfib daddr type local tcp dport 10000 counter packets 0 bytes 0 dnat to 198.19.0.2:80 comment "wl:abc publish nginx-2"
\t}

\tchain postrouting {
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tip saddr 198.19.0.0/24 ip daddr != 198.19.0.0/24 counter packets 1 bytes 60 masquerade comment "wl:abc masquerade"
\t}

\tchain spec {
\t\taccept comment "wl:abc:1234"
\t}
}
"""

CONNTRACK = """ipv4     2 tcp      6 117 TIME_WAIT src=198.18.0.100 dst=198.18.0.11 sport=40000 dport=10000 src=198.19.0.2 dst=198.18.0.100 sport=80 dport=40000 [ASSURED] mark=0 zone=0 use=2
ipv4     2 icmp     1 29 src=198.19.0.2 dst=198.18.0.100 type=8 code=0 id=7 src=198.18.0.100 dst=198.18.0.11 type=0 code=0 id=7 mark=0 zone=0 use=2
ipv4     2 udp      17 20 src=198.18.0.11 dst=198.18.0.12 sport=5000 dport=53 [UNREPLIED] src=198.18.0.12 dst=198.18.0.11 sport=53 dport=5000 mark=0 use=1
"""


def test_rules_are_read_with_their_counters_and_without_the_marker():
    rules = parse_rules(NFT)
    assert rules == [
        {"chain": "prerouting", "rule": "tcp dport 10000 dnat to 198.19.0.2:80", "packets": 3, "bytes": 180},
        {"chain": "output", "rule": "fib daddr type local tcp dport 10000 dnat to 198.19.0.2:80", "packets": 0,
         "bytes": 0},
        {"chain": "postrouting", "rule": "ip saddr 198.19.0.0/24 ip daddr != 198.19.0.0/24 masquerade",
         "packets": 1, "bytes": 60},
    ]  # fmt: skip


def test_conntrack_shows_each_rewrite():
    published, masqueraded, plain = parse_conntrack(CONNTRACK)
    assert published["original"] == {
        "src": "198.18.0.100",
        "dst": "198.18.0.11",
        "sport": "40000",
        "dport": "10000",
    }
    assert published["reply"] == {"src": "198.19.0.2", "dst": "198.18.0.100", "sport": "80", "dport": "40000"}
    assert (published["protocol"], published["state"], published["dnat"], published["snat"]) == (
        "tcp",
        "TIME_WAIT",
        True,
        False,
    )
    assert masqueraded["reply"]["dst"] == "198.18.0.11" and masqueraded["snat"] and not masqueraded["dnat"]
    assert not plain["dnat"] and not plain["snat"]
