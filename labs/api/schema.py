"""OpenAPI additions: the lab document's schema, derived from `topology.document`, so the
browser app's types come from the same single source as the importer."""

from topology.document import LabDoc


def add_document_schema(result, generator, request, public):
    schema = LabDoc.model_json_schema(ref_template="#/components/schemas/{model}")
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.update(schema.pop("$defs", {}))
    components["LabDoc"] = schema
    return result
