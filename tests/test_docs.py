"""The parts of docs/ written from the code match it: the lab document's field reference
(from its JSON Schema) and the table of settings (from config/settings.py)."""

import importlib.util
from pathlib import Path

import pytest

from config import environment

ROOT = Path(__file__).resolve().parent.parent


def _docs_script():
    spec = importlib.util.spec_from_file_location("wirelab_docs", ROOT / "scripts" / "docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", ["reference.md", "configuration.md"])
def test_written_docs_match_the_code(name):
    written = {path.name: text for path, text in _docs_script().written().items()}
    assert (ROOT / "docs" / name).read_text() == written[name], f"docs/{name} is stale: run `make docs`"


def test_every_variable_read_is_in_the_table():
    source = (ROOT / "config" / "settings.py").read_text()
    assert "os.environ" not in source, "settings read the environment only through config.environment.env"
    table = (ROOT / "docs" / "configuration.md").read_text()
    for name in environment.DOCUMENTED:
        assert f"| `{name}` |" in table
    assert "WIRELAB_POOL_MAX" in environment.DOCUMENTED  # read through env(), so recorded


def test_a_variable_is_read_with_its_documented_default(monkeypatch):
    monkeypatch.delenv("WIRELAB_EXAMPLE", raising=False)
    assert environment.env("WIRELAB_EXAMPLE", "7", "an example") == "7"
    monkeypatch.setenv("WIRELAB_EXAMPLE", "9")
    assert environment.env("WIRELAB_EXAMPLE", "7", "an example") == "9"
    assert environment.DOCUMENTED.pop("WIRELAB_EXAMPLE").default == "`7`"


def test_the_reference_names_every_field_of_the_schema():
    from topology.document import document_json_schema
    from topology.reference import document_reference

    text = document_reference()
    schema = document_json_schema()
    for name, spec in {"LabDoc": schema, **schema["$defs"]}.items():
        assert f"## {name}\n" in text
        for field in spec.get("properties", {}):
            assert f"| `{field}` |" in text
