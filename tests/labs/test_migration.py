"""Labs stored as rows before the document became the truth are carried over: the document
is read from the rows once, assignments stay as they were, and the rows become a projection."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from topology.addressing import Assignments
from topology.document import parse_document
from topology.validation import check

BEFORE = [("topology", "0001_initial")]
AFTER = [("topology", "0002_document_is_the_truth")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def latest_schema_after():
    """Going back to BEFORE takes every later migration back (those of other apps that
    depend on these too): put them all back, for the tests that follow."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("latest_schema_after")
def test_rows_become_the_document_with_the_same_assignments(django_user_model):
    old = migrate(BEFORE)
    User = old.get_model("auth", "User")
    owner = User.objects.create(username="old-timer")
    Lab = old.get_model("topology", "Lab")
    Node, Interface = old.get_model("topology", "Node"), old.get_model("topology", "Interface")
    Network, Link = old.get_model("topology", "Network"), old.get_model("topology", "Link")
    PortMapping = old.get_model("topology", "PortMapping")
    assignments = {"interfaces": {"h1:eth0": "198.18.0.7/24", "r1:eth1": "198.18.5.1/30"},
                   "containers": {"web": "198.19.0.9/24"}, "ports": {}}  # fmt: skip
    lab = Lab.objects.create(
        owner=owner, name="legacy", slug="legacy", uid="abcd1234", assignments=assignments
    )
    lan = Network.objects.create(lab=lab, name="lan", kind="segment", subnet="198.18.0.0/24")
    h1 = Node.objects.create(lab=lab, name="h1", kind="host", x=1.0, y=2.0)
    r1 = Node.objects.create(
        lab=lab, name="r1", kind="router", routes=[{"to": "default", "via": "198.18.0.1"}]
    )
    web = Node.objects.create(lab=lab, name="web", kind="container", host=h1, image="wirelab/node:busybox",
                              mode="bridge")  # fmt: skip
    PortMapping.objects.create(node=web, host_port=10000, container_port=80, protocol="tcp")
    Interface.objects.create(node=h1, name="eth0", network=lan)
    a = Interface.objects.create(node=r1, name="eth1")
    b = Interface.objects.create(node=h1, name="eth1")
    Link.objects.create(lab=lab, a=a, b=b, subnet="198.18.5.0/30")

    new = migrate(AFTER)
    stored = new.get_model("topology", "Lab").objects.get(slug="legacy")
    doc = parse_document(stored.document)
    assert list(doc.nodes) == ["h1", "r1", "web"]
    assert doc.nodes["web"].host == "h1" and doc.nodes["web"].ports[0].short() == "10000:80"
    assert doc.nodes["h1"].position.x == 1.0 and doc.nodes["h1"].interfaces["eth0"].network == "lan"
    assert doc.links[0].endpoints == ["r1:eth1", "h1:eth1"] and doc.links[0].subnet == "198.18.5.0/30"
    assert stored.assignments == assignments
    kept, problems = check(doc, Assignments.from_dict(stored.assignments))
    assert not [p for p in problems if p.severity == "error"], problems
    assert kept.interfaces["h1:eth0"] == "198.18.0.7/24" and kept.containers["web"] == "198.19.0.9/24"
    projected = new.get_model("topology", "Node").objects.filter(lab=stored)
    assert sorted(projected.values_list("name", "kind")) == [
        ("h1", "host"),
        ("r1", "router"),
        ("web", "container"),
    ]
