"""The resource endpoints are validated edits of the lab document: the same lab built through
them and through the document endpoint exports byte for byte the same, and no write can
store a lab with errors."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs import lifecycle
from labs.models import Lab, Node, Operation

pytestmark = pytest.mark.django_db

TARGET = """wirelab: 1
name: built
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
nodes:
  h1:
    kind: host
    interfaces:
      eth0: {network: lan}
    position: {x: 10.0, y: 20.0}
  r1:
    kind: router
    interfaces:
      eth0: {network: lan, address: 198.18.0.1/24}
  web:
    kind: container
    host: h1
    image: wirelab/node:busybox
    ports: ['10000:80']
links:
- endpoints: [r1:eth1, h1:eth1]
  subnet: 198.18.9.0/30
"""


def build_through_resources(api) -> int:
    lab = api.post("/api/labs/", {"name": "built"}, format="json").json()["id"]
    steps = [
        ("/api/networks/", {"lab": lab, "name": "lan", "kind": "segment", "subnet": "198.18.0.0/24"}),
        ("/api/nodes/", {"lab": lab, "name": "h1", "kind": "host", "interfaces": {"eth0": {"network": "lan"}}}),
        ("/api/nodes/", {"lab": lab, "name": "r1", "kind": "router",
                         "interfaces": {"eth0": {"network": "lan", "address": "198.18.0.1/24"}}}),
        ("/api/nodes/", {"lab": lab, "name": "web", "kind": "container", "host": "h1",
                         "image": "wirelab/node:busybox", "ports": ["10000:80"]}),
        ("/api/links/", {"lab": lab, "endpoints": ["r1:eth1", "h1:eth1"], "subnet": "198.18.9.0/30"}),
    ]  # fmt: skip
    for url, body in steps:
        response = api.post(url, body, format="json")
        assert response.status_code == 201, response.json()
    h1 = Node.objects.get(lab_id=lab, name="h1").id
    moved = api.patch(f"/api/nodes/{h1}/", {"position": {"x": 10, "y": 20}}, format="json")
    assert moved.status_code == 200, moved.json()
    return lab


def test_resources_and_the_document_build_the_same_lab(api):
    by_parts = build_through_resources(api)
    whole = api.post("/api/labs/import/", TARGET, content_type="application/yaml").json()["id"]
    exports = [api.get(f"/api/labs/{lab}/export/").content for lab in (by_parts, whole)]
    assert exports[0] == exports[1]
    assert Lab.objects.get(id=by_parts).assignments == Lab.objects.get(id=whole).assignments
    for lab in (by_parts, whole):  # a deploy compiles and hands out; the document stays as it was
        lifecycle.request_deploy(Lab.objects.get(id=lab), enqueue=False)
    assert [api.get(f"/api/labs/{lab}/export/").content for lab in (by_parts, whole)] == exports
    specs = [Operation.objects.get(lab_id=lab).spec for lab in (by_parts, whole)]
    parts_spec, whole_spec = ({**spec, "lab": ""} for spec in specs)  # the same but for the lab's tag
    assert parts_spec == whole_spec
    shown = api.get(f"/api/nodes/?lab={by_parts}").json()
    assert [n["name"] for n in shown] == ["h1", "r1", "web"]
    assert shown[2]["ports"] == ["10000:80"] and shown[0]["position"] == {"x": 10.0, "y": 20.0}


@pytest.mark.parametrize(
    ("url", "body", "path"),
    [
        ("/api/nodes/", {"name": "x", "kind": "host", "routes": ["x"]}, "nodes.x.routes[0]"),
        (
            "/api/nodes/",
            {"name": "x", "kind": "host", "routes": [{"to": "nope", "via": "1.2.3.4"}]},
            "nodes.x.routes[0].to",
        ),
        ("/api/nodes/", {"name": "bad name", "kind": "host"}, "nodes.bad name"),
        ("/api/nodes/", {"name": "x", "kind": "spaceship"}, "nodes.x.kind"),
        (
            "/api/nodes/",
            {"name": "x", "kind": "container", "host": "h1", "image": "i", "ports": ["10000:80"]},
            "nodes.x.ports[0]",
        ),
        ("/api/networks/", {"name": "n", "kind": "overlay"}, "networks.n.subnet"),
        ("/api/links/", {"endpoints": ["h1:eth0", "client:eth9"]}, "links[0].endpoints[0]"),
        ("/api/links/", {"endpoints": ["nowhere:eth0", "h1:eth5"]}, "links[0].endpoints[0]"),
    ],
)
def test_a_write_that_breaks_the_lab_is_refused_and_changes_nothing(api, lab, url, body, path):
    before = api.get(f"/api/labs/{lab.id}/export/").content
    response = api.post(url, {"lab": lab.id, **body}, format="json")
    assert response.status_code == 400, response.json()
    assert path in [p["path"] for p in response.json()["problems"]], response.json()
    assert api.get(f"/api/labs/{lab.id}/export/").content == before


def test_a_node_stays_in_its_lab_and_renames_are_checked(api, lab, user):
    other = api.post("/api/labs/", {"name": "other"}, format="json").json()["id"]
    h1 = Node.objects.get(lab=lab, name="h1").id
    moved = api.patch(f"/api/nodes/{h1}/", {"lab": other}, format="json")
    assert moved.status_code == 400 and moved.json()["problems"][0]["path"] == "lab"
    renamed = api.patch(f"/api/nodes/{h1}/", {"name": "h9"}, format="json")
    assert renamed.status_code == 400  # its containers still name h1 as their host
    assert any(p["path"].endswith(".host") for p in renamed.json()["problems"])
    client = Node.objects.get(lab=lab, name="client").id
    assert api.patch(f"/api/nodes/{client}/", {"name": "student"}, format="json").status_code == 200
    assert "student" in Lab.objects.get(id=lab.id).document["nodes"]


def test_a_lab_cannot_grow_past_the_node_limit_through_resources(api, user):
    nodes = "".join(f"  n{i}: {{kind: switch}}\n" for i in range(500))
    lab = api.post(
        "/api/labs/import/", f"name: full\nnodes:\n{nodes}", content_type="application/yaml"
    ).json()
    response = api.post(
        "/api/nodes/", {"lab": lab["id"], "name": "one-more", "kind": "switch"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["problems"][0]["path"] == "nodes"


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    ["name", "kind", "host", "image", "mode", "ports", "interfaces", "routes", "env", "exec", "command",
     "address", "position", "subnet", "endpoints", "lab", "port_range"]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(FIELDS, JSONISH, max_size=6), which=st.sampled_from(["nodes", "networks", "links"])
)
def test_random_resource_writes_never_answer_500(api, lab, body, which):
    before = Lab.objects.get(id=lab.id).document
    body.setdefault("lab", lab.id)
    created = api.post(f"/api/{which}/", body, format="json")
    assert created.status_code in (201, 400), created.content
    rows = api.get(f"/api/{which}/?lab={lab.id}").json()
    if rows:
        edit = {k: v for k, v in body.items() if k != "lab"}
        patched = api.patch(f"/api/{which}/{rows[0]['id']}/", edit, format="json")
        assert patched.status_code in (200, 400), patched.content
        if created.status_code == 400 and patched.status_code == 400:
            assert Lab.objects.get(id=lab.id).document == before
    json.dumps(Lab.objects.get(id=lab.id).document)
