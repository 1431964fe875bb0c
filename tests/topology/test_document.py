"""The document format: parsing, short forms, dumping, and what bad text gives."""

import json

import pytest

from topology.document import (
    PortDoc,
    document_json_schema,
    document_to_data,
    dump_document,
    read_document,
)
from topology.problems import TopologyError


def problems_of(text, max_bytes=1_000_000):
    with pytest.raises(TopologyError) as info:
        read_document(text, max_bytes)
    return [str(p) for p in info.value.problems]


def test_ports_short_forms_parse_to_one_shape():
    doc = read_document(
        "name: x\nnodes:\n  c: {kind: container, ports: ['10000:80', 'auto:53/udp', auto, 8080, '443', '53/udp']}\n"
    )
    assert doc.nodes["c"].ports == [
        PortDoc(host=10000, container=80),
        PortDoc(host="auto", container=53, protocol="udp"),
        PortDoc(host="auto"),
        PortDoc(host=8080),
        PortDoc(host=443),  # a number typed as text is that port too, never a dynamic one
        PortDoc(host=53, protocol="udp"),
    ]


def test_dump_writes_the_short_forms_back(fixture_text):
    doc = read_document(fixture_text("valid-small.yaml"))
    data = document_to_data(doc)
    assert data["nodes"]["web"]["ports"] == ["8080:80", "auto:443"]
    assert read_document(dump_document(doc)) == doc
    assert read_document(dump_document(doc, "json")) == doc


def test_json_and_yaml_read_alike(fixture_text):
    doc = read_document(fixture_text("valid-small.yaml"))
    assert read_document(json.dumps(document_to_data(doc))) == doc


def test_malformed_yaml_names_the_line():
    (problem,) = problems_of("name: x\nnodes: [\n")
    assert "not valid YAML at line" in problem


def test_duplicate_keys_are_refused_not_silently_merged():
    (problem,) = problems_of("name: x\nnodes:\n  a: {kind: host}\n  a: {kind: router}\n")
    assert "'a' is given twice" in problem
    (problem,) = problems_of('{"name": "x", "name": "y"}')
    assert "'name' is given twice" in problem


def test_wrong_types_and_unknown_fields_are_all_listed():
    problems = problems_of("name: x\nnodes:\n  a: {kind: host, colour: red, env: 5}\nlinks: 3\n")
    assert "error: nodes.a.colour: unknown field 'colour'" in problems
    assert any(p.startswith("error: nodes.a.env:") for p in problems)
    assert any(p.startswith("error: links:") for p in problems)


def test_size_limit_is_enforced():
    (problem,) = problems_of("name: " + "x" * 200, max_bytes=100)
    assert "the limit is 100 bytes" in problem


def test_unsupported_version_and_non_mapping():
    assert "format version 7" in problems_of("wirelab: 7\nname: x\n")[0]
    assert "must be a mapping" in problems_of("- a\n- b\n")[0]


def test_json_schema_is_derived_from_the_models():
    schema = document_json_schema()
    assert schema["title"] == "LabDoc"
    assert "nodes" in schema["properties"]
    assert "NodeDoc" in schema["$defs"]


def test_a_port_with_its_protocol_reads_back_the_same():
    doc = read_document("name: x\nnodes:\n  c: {kind: container, ports: ['53/udp', 'auto/udp', 8080]}\n")
    assert document_to_data(doc)["nodes"]["c"]["ports"] == ["53/udp", "auto/udp", 8080]
    assert read_document(dump_document(doc)) == doc
