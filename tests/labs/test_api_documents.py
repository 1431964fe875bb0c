"""Import, export, validate and replace over the API; bad input is a 400 with every problem."""

import json

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from labs.models import Lab, Node
from topology.document import read_document

pytestmark = pytest.mark.django_db


def test_import_yaml_body_then_export_gives_an_equal_lab(api, demo_text):
    response = api.post("/api/labs/import/", demo_text("docker-modes"), content_type="application/yaml")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "docker-modes"
    assert [p["severity"] for p in body["problems"]] == ["warning"]
    exported = api.get(f"/api/labs/{body['id']}/export/").content.decode()
    assert read_document(exported) == read_document(demo_text("docker-modes"))

    again = api.post("/api/labs/import/", exported, content_type="application/yaml").json()
    assert again["slug"] == "docker-modes-2"
    second = api.get(f"/api/labs/{again['id']}/export/?as=json").json()
    assert second == yaml.safe_load(exported)


def test_a_lab_says_which_host_port_each_auto_port_was_given(api, demo_text, settings):
    body = api.post("/api/labs/import/", demo_text("docker-modes"), content_type="application/yaml").json()
    ports = api.get(f"/api/labs/{body['id']}/").json()["assigned_ports"]
    assert list(ports) == ["app-dyn:0"]  # the one `auto` port of the demo (PORT0 of app-dyn)
    assert ports == Lab.objects.get(id=body["id"]).assignments["ports"]
    assert 1024 <= ports["app-dyn:0"] <= 65535


def test_import_json_wrapper_and_file_upload(api, demo_text):
    wrapped = api.post("/api/labs/import/", {"document": demo_text("routed")}, format="json")
    assert wrapped.status_code == 201
    upload = SimpleUploadedFile("routed.yaml", demo_text("routed").encode())
    uploaded = api.post("/api/labs/import/", {"file": upload}, format="multipart")
    assert uploaded.status_code == 201
    assert Lab.objects.filter(name="routed").count() == 2


def test_import_of_a_broken_document_lists_every_problem_and_stores_nothing(api, fixture_text):
    response = api.post(
        "/api/labs/import/", fixture_text("broken-many.yaml"), content_type="application/yaml"
    )
    assert response.status_code == 400
    problems = response.json()["problems"]
    assert len(problems) >= 8
    assert {
        "path": "nodes.web2.ports[0]",
        "severity": "error",
        "message": "host port 10000 on host h1 is already published by nodes.web1",
    } in problems
    assert not Lab.objects.exists()


@pytest.mark.parametrize(
    "body, content_type",
    [
        ("name: [unclosed", "application/yaml"),
        ("{not json", "application/json"),
        ("", "application/yaml"),
        ("\xff\xfe", "application/octet-stream"),
        ("- just\n- a list\n", "text/plain"),
        (json.dumps({"document": 5}), "application/json"),
    ],
)
def test_malformed_bodies_are_400s_not_500s(api, body, content_type):
    response = api.post("/api/labs/import/", body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["problems"]


def test_huge_documents_are_refused(api, settings):
    settings.WIRELAB_MAX_DOCUMENT_BYTES = 1000
    response = api.post("/api/labs/import/", "name: x\n" + "#" * 2000, content_type="application/yaml")
    assert response.status_code == 400
    assert "the limit is 1000 bytes" in response.json()["problems"][0]["message"]


def test_validate_endpoint_checks_without_storing(api, fixture_text):
    response = api.post("/api/validate/", fixture_text("broken-many.yaml"), content_type="application/yaml")
    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert not Lab.objects.exists()


def test_a_resource_write_that_adds_an_error_is_refused_with_the_problem(api, lab):
    before = api.get(f"/api/labs/{lab.id}/export/").content
    created = api.post(
        "/api/nodes/",
        {
            "lab": lab.id,
            "name": "web9",
            "kind": "container",
            "host": "h1",
            "image": "i",
            "ports": ["10000:80"],
        },
        format="json",
    )
    assert created.status_code == 400
    assert {
        "path": "nodes.web9.ports[0]",
        "severity": "error",
        "message": "host port 10000 on host h1 is already published by nodes.nginx-2",
    } in created.json()["problems"]
    assert api.get(f"/api/labs/{lab.id}/export/").content == before
    assert not Node.objects.filter(lab=lab, name="web9").exists()


def test_duplicate_node_name_is_refused_with_the_field(api, lab):
    response = api.post("/api/nodes/", {"lab": lab.id, "name": "h1", "kind": "host"}, format="json")
    assert response.status_code == 400
    problem = response.json()["problems"][0]
    assert problem["path"] == "nodes.h1" and "already has a node named 'h1'" in problem["message"]


def test_replacing_the_document_keeps_automatic_addresses(api, user):
    text = (
        "name: keep\nnetworks:\n  lan: {kind: segment, subnet: 198.18.0.0/24}\nnodes:\n"
        "  b: {kind: host, interfaces: {eth0: {network: lan}}}\n"
    )
    lab = api.post("/api/labs/import/", text, content_type="application/yaml").json()
    before = Lab.objects.get(id=lab["id"]).assignments["interfaces"]
    grown = text.replace("  b:", "  a: {kind: host, interfaces: {eth0: {network: lan}}}\n  b:")
    response = api.put(f"/api/labs/{lab['id']}/document/", grown, content_type="application/yaml")
    assert response.status_code == 200, response.content
    after = Lab.objects.get(id=lab["id"]).assignments["interfaces"]
    assert after["b:eth0"] == before["b:eth0"] == "198.18.0.1/24"
    assert after["a:eth0"] == "198.18.0.2/24"


def test_containerlab_file_imports(api, fixture_text):
    response = api.post("/api/labs/import/", fixture_text("clab-linux.yaml"), content_type="application/yaml")
    assert response.status_code == 201
    assert any(p["path"] == "topology.nodes.n2.binds" for p in response.json()["problems"])
    lab = Lab.objects.get(id=response.json()["id"])
    assert sorted(lab.nodes.values_list("name", "kind")) == [("br", "switch"), ("n1", "host"), ("n2", "host")]


def test_a_zipped_kathara_lab_imports_and_exports_both_ways(api, demo_text):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.topology.test_kathara import OSPF_LAB, zipped

    files = {**OSPF_LAB, "lab.conf": OSPF_LAB["lab.conf"].replace(b"kathara/frr", b"kathara/base")}
    upload = SimpleUploadedFile("ospf.zip", zipped(files, top="ospf/"), content_type="application/zip")
    response = api.post("/api/labs/import/", {"file": upload}, format="multipart")
    assert response.status_code == 201, response.content
    assert any(p["path"] == "r1/etc/frr/frr.conf" for p in response.json()["problems"])
    lab = Lab.objects.get(id=response.json()["id"])
    assert lab.name == "ospf-triangle"
    assert sorted(lab.nodes.values_list("name", "kind")) == [
        ("pc1", "host"), ("r1", "router"), ("r2", "router"), ("r3", "router")
    ]  # fmt: skip

    routed = api.post("/api/labs/import/", demo_text("routed"), content_type="application/yaml").json()
    exported = api.get(f"/api/labs/{routed['id']}/export/?as=kathara")
    assert exported["Content-Type"] == "application/zip"
    assert exported["Content-Disposition"] == 'attachment; filename="routed-kathara.zip"'
    again = SimpleUploadedFile("routed.zip", exported.content, content_type="application/zip")
    back = api.post("/api/labs/import/", {"file": again}, format="multipart")
    assert back.status_code == 201 and back.json()["node_count"] == 3

    clab = api.get(f"/api/labs/{routed['id']}/export/?as=containerlab")
    assert clab["Content-Disposition"] == 'attachment; filename="routed.clab.yml"'
    text = clab.content.decode()
    assert text.startswith("# left out: containerlab's bridge nodes are Linux bridges")
    assert api.post("/api/labs/import/", text, content_type="application/yaml").status_code == 201
    assert api.get(f"/api/labs/{routed['id']}/export/?as=gns3").status_code == 400


def test_a_broken_archive_is_a_400_with_the_reason(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("x.zip", b"PK\x03\x04broken", content_type="application/zip")
    response = api.post("/api/labs/import/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert "not a readable zip" in response.json()["problems"][0]["message"]
    assert Lab.objects.count() == 0


def test_kinds_list_the_registry_with_the_traits_the_editor_asks(api):
    kinds = {k["name"]: k for k in api.get("/api/kinds/").json()}
    assert set(kinds) == {"host", "router", "switch", "container"}
    assert kinds["container"]["placed_on_host"] and kinds["host"]["holds_containers"]
    assert kinds["switch"]["bridges_ports"] and not kinds["switch"]["has_container"]
    assert [p["label"] for p in kinds["host"]["palette"]] == ["Docker host", "End host"]
    assert "{name}" in kinds["container"]["palette"][0]["template"]["command"]
    assert (
        "ports" in kinds["container"]["allowed_fields"]
        and "routes" not in kinds["container"]["allowed_fields"]
    )


def test_openapi_schema_and_ui(api, client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    assert b"/api/labs/import/" in schema.content
    ui = client.get("/api/schema/ui/")
    assert ui.status_code == 200
    assert b"swagger" in ui.content.lower()


def test_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert "/api/labs/{id}/export/" in (tmp_path / "schema.yaml").read_text()


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_an_impairment_that_is_not_a_number_is_a_400(api, lab, value):
    response = api.post(f"/api/labs/{lab.id}/impair/", {"node": "h1", "iface": "eth0", "delay_ms": value},
                        format="json")  # fmt: skip
    assert response.status_code == 400
    assert "delay_ms" in response.json()


IMAGES = (
    "name: {name}\nnodes:\n  h1: {{kind: host}}\n  web: {{kind: container, host: h1, image: '{image}'}}\n"
)


def test_images_outside_the_policy_are_refused_and_admins_widen_it(api, user):
    from labs import lifecycle
    from labs.models import ImageRule

    refused = api.post(
        "/api/labs/import/", IMAGES.format(name="a", image="caddy:2.7"), content_type="application/yaml"
    )
    assert refused.status_code == 400
    assert [p["path"] for p in refused.json()["problems"]] == ["nodes.web.image"]
    assert "not allowed on this installation" in refused.json()["problems"][0]["message"]
    checked = api.post(
        "/api/validate/", {"document": IMAGES.format(name="a", image="caddy:2.7")}, format="json"
    )
    assert checked.json()["valid"] is False  # the editor shows it while typing
    assert not Lab.objects.exists()

    alias = api.post(
        "/api/labs/import/", IMAGES.format(name="b", image="alpine:3.19"), content_type="application/yaml"
    )
    assert alias.status_code == 201, alias.content
    lab = Lab.objects.get(id=alias.json()["id"])
    assert lab.document["nodes"]["web"]["image"] == "alpine:3.19"
    op = lifecycle.request_deploy(lab, user, enqueue=False)
    assert [a["image"] for a in op.spec["apps"]] == ["wirelab/node:debian"]  # the stand-in runs

    ImageRule.objects.create(pattern="caddy:2.*", order=50)
    widened = api.post(
        "/api/labs/import/", IMAGES.format(name="c", image="caddy:2.7"), content_type="application/yaml"
    )
    assert widened.status_code == 201, widened.content


def test_a_save_based_on_a_document_changed_meanwhile_is_refused_and_changes_nothing(api, demo_text):
    """An editor sends the version its edit started from: a change made meanwhile (a typed
    `docker run`, another page) is never overwritten."""
    lab = api.post("/api/labs/import/", demo_text("routed"), content_type="application/yaml").json()
    read = api.get(f"/api/labs/{lab['id']}/export/?as=json")
    base = read["ETag"].strip('"')
    assert base == lab["document_version"]
    theirs = read.json()
    theirs["description"] = "changed meanwhile"
    saved = api.put(f"/api/labs/{lab['id']}/document/", theirs, format="json", HTTP_IF_MATCH=f'"{base}"')
    assert saved.status_code == 200 and saved.json()["document_version"] != base

    mine = read.json()
    mine["description"] = "my edit, from the old version"
    stale = api.put(f"/api/labs/{lab['id']}/document/", mine, format="json", HTTP_IF_MATCH=f'"{base}"')
    assert stale.status_code == 412, stale.content
    assert "changed meanwhile" in stale.json()["detail"]
    assert stale.json()["document_version"] == saved.json()["document_version"]
    assert Lab.objects.get(id=lab["id"]).document["description"] == "changed meanwhile"
    unguarded = api.put(f"/api/labs/{lab['id']}/document/", mine, format="json")  # the API's old way
    assert unguarded.status_code == 200
