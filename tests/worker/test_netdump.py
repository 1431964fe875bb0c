"""The bulk reads of a namespace agree with pyroute2's full decoding of the same kernel state."""

import secrets
import subprocess

import pytest
from pyroute2 import IPRoute

from worker.labels import ROUTE_PROTO
from worker.netlink import Namespaces
from worker.nsock import netlink_fd_in

pytestmark = pytest.mark.kernel


@pytest.fixture
def namespace():
    name = f"wirelab-dump-{secrets.token_hex(3)}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)


def ip(name: str, *args: str) -> None:
    subprocess.run(["ip", "-n", name, *args], check=True)


def test_links_addresses_and_routes_read_in_bulk_match_pyroute2(namespace):
    ip(namespace, "link", "add", "br0", "mtu", "1400", "type", "bridge")
    ip(namespace, "link", "add", "v1", "type", "veth", "peer", "name", "v2")
    ip(namespace, "link", "set", "v1", "alias", "wl-abc node:eth1 ünïcode", "master", "br0", "up")
    ip(namespace, "link", "set", "br0", "mtu", "1400", "up")
    ip(namespace, "addr", "add", "198.18.99.1/24", "dev", "br0")
    ip(namespace, "addr", "add", "198.18.98.1/30", "dev", "br0")
    ip(namespace, "-6", "addr", "add", "2001:db8::1/64", "dev", "br0", "nodad")
    ip(namespace, "route", "add", "198.18.100.0/24", "via", "198.18.99.2", "proto", str(ROUTE_PROTO))
    ip(namespace, "route", "add", "default", "via", "198.18.99.3", "proto", str(ROUTE_PROTO))
    ip(namespace, "route", "add", "198.18.101.0/24", "via", "198.18.99.4")  # not ours
    path = f"/var/run/netns/{namespace}"
    ns = Namespaces()
    try:
        where = ns.at(path)
        links, addresses, routes = where.links(), where.addresses(), where.routes()
    finally:
        ns.close()

    with IPRoute(fileno=netlink_fd_in(path)) as ipr:
        expected = {}
        for msg in ipr.get_links():
            info = msg.get("IFLA_LINKINFO")
            expected[msg.get("IFLA_IFNAME")] = (
                msg["index"], info.get("IFLA_INFO_KIND") if info else "", msg.get("IFLA_IFALIAS") or "",
                msg.get("IFLA_MASTER") or 0, msg.get("IFLA_MTU"), bool(msg["flags"] & 1),
            )  # fmt: skip
        expected_addresses = {}
        for a in ipr.get_addr():
            if not a.get("IFA_ADDRESS").startswith("fe80:"):
                expected_addresses.setdefault(a["index"], set()).add(
                    f"{a.get('IFA_ADDRESS')}/{a['prefixlen']}"
                )
    got = {name: (k.index, k.kind, k.alias, k.master, k.mtu, k.up) for name, k in links.items()}
    assert got == expected
    assert links["v1"].alias == "wl-abc node:eth1 ünïcode" and links["v1"].master == links["br0"].index
    assert links["br0"].mtu == 1400 and links["br0"].kind == "bridge" and links["v2"].up is False
    assert addresses == expected_addresses
    assert addresses[links["br0"].index] == {"198.18.99.1/24", "198.18.98.1/30", "2001:db8::1/64"}
    assert routes == {"198.18.100.0/24": "198.18.99.2", "0.0.0.0/0": "198.18.99.3"}


def test_a_namespace_that_is_gone_is_an_engine_error():
    from worker.errors import EngineError

    ns = Namespaces()
    try:
        with pytest.raises(EngineError, match="is gone"):
            ns.at("/var/run/netns/wirelab-no-such-namespace").links()
    finally:
        ns.close()
