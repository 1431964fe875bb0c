"""The lab's names as its embedded DNS answers them: who resolves what, and the answers built."""

import dns.message
import dns.rcode
import dns.rdatatype
import dns.reversename
import pytest

from topology.compiler import compile_lab
from topology.document import read_document
from topology.names import lookup, reverse
from topology.validation import check
from worker.live.resolver import answer

SERVICE = "\nservices:\n  web: {address: 198.18.0.200, port: 80, backends: [nginx-1, nginx-3]}\n"


@pytest.fixture
def names(demo_text):
    specs, _ = compile_lab(read_document(demo_text("docker-modes") + SERVICE), "t1", "local")
    return specs["local"].names


def test_hosts_services_and_host_mode_containers_resolve_everywhere(names):
    for asking in ("client", "h1", "nginx-2", "app-1"):
        assert lookup(names, asking, "h2") == ["198.18.0.12"]
        assert lookup(names, asking, "web.") == ["198.18.0.200"]
        assert lookup(names, asking, "NGINX-1") == ["198.18.0.11"]  # its host's stack; any case
    assert lookup(names, "client", "nothere") is None


def test_a_container_resolves_on_the_networks_it_shares(names):
    app1, app2 = names.records["lab"].get("app-1"), lookup(names, "app-1", "app-2")
    assert app1 is None and app2 and app2[0].startswith("198.19.128.")  # the overlay's address
    assert lookup(names, "client", "app-2") is None  # not on the overlay
    assert lookup(names, "h2", "nginx-3") is None  # a bridge-mode container: its bridge's own
    assert reverse(names, "app-1", app2[0]) == "app-2"
    assert reverse(names, "client", "198.18.0.12") == "h2"


def test_answers_are_dns_messages(names):
    query = dns.message.make_query("h1", "A")
    reply = dns.message.from_wire(answer(names, "client", query.to_wire()))
    assert reply.id == query.id and reply.rcode() == dns.rcode.NOERROR
    assert [r.to_text() for r in reply.answer[0]] == ["198.18.0.11"]
    missing = dns.message.from_wire(answer(names, "client", dns.message.make_query("nope", "A").to_wire()))
    assert missing.rcode() == dns.rcode.NXDOMAIN and not missing.answer
    aaaa = dns.message.from_wire(answer(names, "client", dns.message.make_query("h1", "AAAA").to_wire()))
    assert aaaa.rcode() == dns.rcode.NOERROR and not aaaa.answer  # the name is there, no IPv6
    ptr = dns.message.make_query(dns.reversename.from_address("198.18.0.12"), dns.rdatatype.PTR)
    reply = dns.message.from_wire(answer(names, "client", ptr.to_wire()))
    assert reply.answer[0][0].to_text() == "h2."
    assert answer(names, "client", b"\x00garbage") is None
    assert answer(names, "client", reply.to_wire()) is None  # a reply is never answered


def test_a_service_cannot_take_a_nodes_name(demo_text):
    text = (
        demo_text("docker-modes")
        + "\nservices:\n  h1: {address: 198.18.0.200, port: 80, backends: [nginx-1]}\n"
    )
    problems = [p for p in check(read_document(text))[1] if p.path == "services.h1"]
    assert problems and "already a node's name" in problems[0].message
