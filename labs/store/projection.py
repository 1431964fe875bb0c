"""Rows projected from a lab's document, for listings, API queries and admin filters.

Rebuilt from the document on every save, one way only: nothing reads them back into a
document. Rows keep their ids while the element keeps its name, so API ids stay valid.
"""

from __future__ import annotations

from .models import Lab, Link, Network, Node


def link_name(endpoints: list[str]) -> str:
    return "|".join(endpoints)


def project(lab: Lab, data: dict) -> None:
    """Make the lab's rows match its document data (the short form of `document_to_data`)."""
    _sync(Node, lab, {name: (item["kind"], item) for name, item in data.get("nodes", {}).items()})
    _sync(Network, lab, {name: (item["kind"], item) for name, item in data.get("networks", {}).items()})
    _sync(Link, lab, {link_name(item["endpoints"]): ("", item) for item in data.get("links", [])})


def _sync(model, lab: Lab, wanted: dict[str, tuple[str, dict]]) -> None:
    rows = {row.name: row for row in model.objects.filter(lab=lab)}
    model.objects.filter(id__in=[row.id for name, row in rows.items() if name not in wanted]).delete()
    changed, fresh = [], []
    for name, (kind, item) in wanted.items():
        row = rows.get(name)
        if row is None:
            fresh.append(model(lab=lab, name=name, kind=kind, data=item))
        elif row.kind != kind or row.data != item:
            row.kind, row.data = kind, item
            changed.append(row)
    model.objects.bulk_create(fresh)
    model.objects.bulk_update(changed, ["kind", "data"])
