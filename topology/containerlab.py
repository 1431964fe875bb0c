"""Import a containerlab topology file as a Wirelab lab document.

Defaults, kinds and groups are merged into each node as containerlab does; `linux`
nodes become hosts with their image and `exec`, bridges become switches, and whatever
cannot be carried over is reported as a warning.
"""

from __future__ import annotations

from typing import Any

from .document import FORMAT_VERSION, LabDoc, parse_document
from .problems import Problem, TopologyError, error, join_path, warning

CARRIED = {"kind", "image", "exec", "env", "group"}
SWITCH_KINDS = {"bridge", "ovs-bridge"}
SPECIAL_NODES = {"host", "mgmt-net", "macvlan", "vxlan", "vxlan-stitch", "dummy"}


def looks_like_containerlab(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("topology"), dict)


def _mapping(value: Any, path: str) -> dict:
    """A mapping of the file, or {} when it is left out; anything else is a problem at `path`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TopologyError([error(path, f"must be a mapping, not {type(value).__name__}")])
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise TopologyError([error(path, f"must be a string, not {type(value).__name__}")])
    return value


def _merge(*layers: dict) -> dict:
    out: dict = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key == "env" and isinstance(value, dict):
                out["env"] = {**out.get("env", {}), **value}
            else:
                out[key] = value
    return out


def convert(data: Any) -> tuple[dict, list[Problem]]:
    """containerlab data -> (Wirelab document data, warnings)."""
    if not looks_like_containerlab(data):
        raise TopologyError([error("topology", "a containerlab file has a `topology` mapping")])
    topo = data["topology"]
    notes: list[Problem] = []
    for key in data:
        if key not in {"name", "topology", "prefix"}:
            notes.append(warning(key, f"containerlab's '{key}' is not carried over"))
    defaults = _mapping(topo.get("defaults"), "topology.defaults")
    kinds = _mapping(topo.get("kinds"), "topology.kinds")
    groups = _mapping(topo.get("groups"), "topology.groups")
    nodes_in = _mapping(topo.get("nodes"), "topology.nodes")
    nodes: dict[str, dict] = {}
    for name, given in nodes_in.items():
        path = join_path("topology.nodes", str(name))
        raw = _mapping(given, path)
        kind = _text(raw.get("kind") or defaults.get("kind") or "linux", path + ".kind")
        group = _text(raw.get("group") or "", path + ".group")
        layers = [_mapping(kinds.get(kind), f"topology.kinds.{kind}")]
        if group:
            layers.append(_mapping(groups.get(group), f"topology.groups.{group}"))
        merged = _merge(defaults, *layers, raw)
        nodes[str(name)] = _convert_node(str(name), kind, merged, notes)
    links_in = topo.get("links") or []
    if not isinstance(links_in, list):
        raise TopologyError([error("topology.links", "links must be a list")])
    links = [_convert_link(i, link, notes) for i, link in enumerate(links_in)]
    doc = {
        "wirelab": FORMAT_VERSION,
        "name": str(data.get("name") or "containerlab"),
        "nodes": nodes,
        "links": [link for link in links if link],
    }
    return doc, notes


def _convert_node(name: str, kind: str, merged: dict, notes: list[Problem]) -> dict:
    path = join_path("topology.nodes", name)
    if kind in SWITCH_KINDS:
        notes.append(warning(path, f"{kind} '{name}' becomes a switch inside the lab"))
        return {"kind": "switch"}
    node: dict[str, Any] = {"kind": "host"}
    if kind != "linux":
        notes.append(warning(path + ".kind", f"kind '{kind}' is run as a Linux host from its image"))
    if merged.get("image"):
        node["image"] = merged["image"]
    exec_ = merged.get("exec")
    if exec_:
        if isinstance(exec_, str):
            exec_ = [exec_]
        if not isinstance(exec_, list) or not all(isinstance(c, str) for c in exec_):
            raise TopologyError([error(path + ".exec", "exec is a command or a list of commands")])
        node["exec"] = exec_
    if merged.get("env"):
        node["env"] = _mapping(merged["env"], path + ".env")
    for key in merged:
        if key not in CARRIED:
            notes.append(warning(join_path(path, key), f"containerlab's '{key}' is not carried over"))
    return node


def _endpoints(link: dict) -> list[str]:
    ends = link.get("endpoints") or []
    out = []
    for end in ends:
        if isinstance(end, dict):
            out.append(f"{end.get('node')}:{end.get('interface')}")
        else:
            out.append(str(end))
    return out


def _convert_link(index: int, link: Any, notes: list[Problem]) -> dict | None:
    path = join_path("topology.links", index)
    if not isinstance(link, dict):
        raise TopologyError([error(path, "a link must be a mapping with `endpoints`")])
    ends = _endpoints(link)
    special = [e for e in ends if e.partition(":")[0] in SPECIAL_NODES]
    if special:
        notes.append(warning(path, f"links to {', '.join(special)} stay outside the lab; left out"))
        return None
    for key in link:
        if key not in {"endpoints", "type"} or (key == "type" and link[key] != "veth"):
            notes.append(warning(join_path(path, key), f"containerlab's link '{key}' is not carried over"))
    return {"endpoints": ends}


def import_containerlab(data: Any) -> tuple[LabDoc, list[Problem]]:
    converted, notes = convert(data)
    return parse_document(converted), notes
