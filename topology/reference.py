"""The lab document's field reference, written from its JSON Schema (docs/reference.md, by
`make docs`): one table per object, every field with its type, default and description."""

from __future__ import annotations

import json
from typing import Any

from .document import document_json_schema

# The objects in the order a reader meets them; any other object of the schema follows.
ORDER = ["LabDoc", "NodeDoc", "InterfaceDoc", "Route", "PortDoc", "NetworkDoc", "LinkDoc", "ServiceDoc"]


def document_reference() -> str:
    schema = document_json_schema()
    objects: dict[str, dict[str, Any]] = {"LabDoc": schema, **schema.get("$defs", {})}
    names = [n for n in ORDER if n in objects] + sorted(n for n in objects if n not in ORDER)
    parts = [
        "# The lab document, field by field\n",
        "Written from the document's JSON Schema (`topology/document.py`) by `make docs`;",
        "[the lab document](document.md) shows how the parts fit together.\n",
    ]
    for name in names:
        parts.append(_object(name, objects[name]))
    return "\n".join(parts)


def _object(name: str, schema: dict[str, Any]) -> str:
    lines = [f"## {name}\n"]
    description = " ".join(str(schema.get("description", "")).split())
    if description:
        lines.append(description + "\n")
    required = set(schema.get("required", []))
    lines += ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for field, spec in schema.get("properties", {}).items():
        default = "required" if field in required else _default(spec)
        text = " ".join(str(spec.get("description", "")).split()).replace("|", "\\|")
        lines.append(f"| `{field}` | {_type(spec)} | {default} | {text} |")
    return "\n".join(lines) + "\n"


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        target = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{target}](#{target.lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(option) for option in spec["anyOf"] if option.get("type") != "null")
    if "const" in spec:
        return f"`{json.dumps(spec['const'])}`"
    if "enum" in spec:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in spec["enum"])
    return _container_type(spec)


def _container_type(spec: dict[str, Any]) -> str:
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"map of name to {_type(spec['additionalProperties'])}"
    return str(kind)


def _default(spec: dict[str, Any]) -> str:
    if "default" not in spec:
        return "empty" if spec.get("type") in ("array", "object") else ""
    value = spec["default"]
    return "none" if value is None else f"`{json.dumps(value)}`"
