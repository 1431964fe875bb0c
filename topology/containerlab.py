"""containerlab topology files: importing one as a Wirelab lab document, and exporting a lab as one.

Import merges defaults, kinds and groups into each node as containerlab does (a node's kind
comes from itself, its group or the defaults; its group from itself or the defaults; `env`
merged key by key; `exec` lists joined in the order defaults, kind, group, node; other fields
taken from the most specific layer). `linux` nodes become hosts with their image and `exec`,
bridges become switches, veth links become links; whatever stays outside a lab (links to the
containerlab host, the management network, macvlan, dummy, vxlan) or cannot be carried over is
a warning. `${VAR:=default}` and `${VAR:-default}` take their default: the server's own
environment is never read. Topology templates (Go's `{{ ... }}`) are refused.

Export writes `linux` nodes whose `exec` sets the addresses and routes that Wirelab would
have set, a `bridge` node per LAN segment, and veth links; what containerlab has no equivalent
for (containers placed on an emulated Docker host, overlays) is left out with a warning.
"""

from __future__ import annotations

import re
from typing import Any

from .document import FORMAT_VERSION, LabDoc, parse_document
from .kinds import get_kind
from .peers import setup_commands
from .problems import Problem, TopologyError, error, join_path, warning

CARRIED = {"kind", "image", "exec", "env", "group"}
SWITCH_KINDS = {"bridge", "ovs-bridge"}
SPECIAL_NODES = {"host", "mgmt-net", "macvlan", "vxlan", "vxlan-stitch", "dummy"}
SINGLE_ENDPOINT_TYPES = {"host", "mgmt-net", "macvlan", "dummy", "vxlan", "vxlan-stitch"}
LINK_KEYS = {"endpoints", "type"}
EXPORT_IMAGE = "alpine:3"  # a node without its own image; importing maps alpine back to Wirelab's node
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}")
TEMPLATE = re.compile(r"\{\{.*?\}\}", re.S)


def looks_like_containerlab(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("topology"), dict)


def refuse_template(text: str) -> None:
    """A topology template is for containerlab to render; its result can be imported."""
    if TEMPLATE.search(text):
        raise TopologyError([error("", "this is a containerlab topology template ({{ ... }}): "
                                   "render it with containerlab first, then import the result")])  # fmt: skip


def substitute(text: str) -> tuple[str, list[Problem]]:
    """`${VAR:=default}` and `${VAR:-default}` become their default; a variable without one is
    left as written (a shell in the node may expand it) and said in a warning."""
    left: list[str] = []

    def value(match: re.Match[str]) -> str:
        if match.group(2):
            return str(match.group(3))
        left.append(match.group(1))
        return str(match.group(0))

    out = VARIABLE.sub(value, text)
    said = "has no default: left as written (the server's environment is never read)"
    notes = [warning("", f"${{{name}}} {said}") for name in dict.fromkeys(left)]
    return out, notes


def _mapping(value: Any, path: str) -> dict[str, Any]:
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


def _commands(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise TopologyError([error(path, "exec is a command or a list of commands")])
    return value


def _env_value(value: Any) -> str:
    """Environment values as containerlab's YAML reader gives them: numbers and booleans as text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    return ""


def _merge(layers: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """(path, layer) from the least to the most specific."""
    out: dict[str, Any] = {}
    for path, layer in layers:
        for key, value in layer.items():
            if key == "env":
                env = _mapping(value, join_path(path, "env"))
                out["env"] = {**out.get("env", {}), **{str(k): _env_value(v) for k, v in env.items()}}
            elif key == "exec":
                out["exec"] = out.get("exec", []) + _commands(value, join_path(path, "exec"))
            else:
                out[key] = value
    return out


def convert(data: Any) -> tuple[dict[str, Any], list[Problem]]:
    """containerlab data -> (Wirelab document data, warnings)."""
    if not looks_like_containerlab(data):
        raise TopologyError([error("topology", "a containerlab file has a `topology` mapping")])
    topo = data["topology"]
    notes: list[Problem] = []
    for key in data:
        if key not in {"name", "topology", "prefix"}:
            notes.append(warning(str(key), f"containerlab's '{key}' is not carried over"))
    defaults = _mapping(topo.get("defaults"), "topology.defaults")
    kinds = _mapping(topo.get("kinds"), "topology.kinds")
    groups = _mapping(topo.get("groups"), "topology.groups")
    nodes_in = _mapping(topo.get("nodes"), "topology.nodes")
    nodes: dict[str, dict[str, Any]] = {}
    for name, given in nodes_in.items():
        path = join_path("topology.nodes", str(name))
        raw = _mapping(given, path)
        group = _text(raw.get("group") or defaults.get("group") or "", path + ".group")
        group_layer = _mapping(groups.get(group), f"topology.groups.{group}") if group else {}
        kind = _text(
            raw.get("kind") or group_layer.get("kind") or defaults.get("kind") or "linux", path + ".kind"
        )
        layers = [
            ("topology.defaults", defaults),
            (f"topology.kinds.{kind}", _mapping(kinds.get(kind), f"topology.kinds.{kind}")),
        ]
        if group:
            layers.append((f"topology.groups.{group}", group_layer))
        merged = _merge([*layers, (path, raw)])
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


def _convert_node(name: str, kind: str, merged: dict[str, Any], notes: list[Problem]) -> dict[str, Any]:
    path = join_path("topology.nodes", name)
    if kind in SWITCH_KINDS:
        notes.append(warning(path, f"{kind} '{name}' becomes a switch inside the lab"))
        return {"kind": "switch"}
    node: dict[str, Any] = {"kind": "host"}
    if kind != "linux":
        notes.append(warning(path + ".kind", f"kind '{kind}' is run as a Linux host from its image"))
    if merged.get("image"):
        node["image"] = _text(merged["image"], path + ".image")
    if merged.get("exec"):
        node["exec"] = merged["exec"]
    if merged.get("env"):
        node["env"] = merged["env"]
    for key, value in merged.items():
        if key == "ports":
            published = ", ".join(str(p) for p in value) if isinstance(value, list) else str(value)
            said = "are published on containerlab's own host; a Wirelab lab stays inside its lab host"
            notes.append(warning(join_path(path, key), f"ports {published} {said}, so they are left out"))
        elif key not in CARRIED:
            notes.append(warning(join_path(path, str(key)), f"containerlab's '{key}' is not carried over"))
    return node


def _endpoint(end: Any, path: str) -> str:
    if isinstance(end, dict):
        node, iface = end.get("node"), end.get("interface")
        if not isinstance(node, str) or not isinstance(iface, str) or not node or not iface:
            raise TopologyError([error(path, "an endpoint names its `node` and `interface`")])
        return f"{node}:{iface}"
    if not isinstance(end, str) or end.count(":") != 1 or not all(end.split(":")):
        raise TopologyError([error(path, "an endpoint is written 'node:interface'")])
    return end


def _convert_link(index: int, link: Any, notes: list[Problem]) -> dict[str, Any] | None:
    path = join_path("topology.links", index)
    if not isinstance(link, dict):
        raise TopologyError([error(path, "a link must be a mapping with `endpoints`")])
    kind = link.get("type", "veth")
    if not isinstance(kind, str):
        raise TopologyError([error(join_path(path, "type"), "a link's type is a word such as veth")])
    if kind in SINGLE_ENDPOINT_TYPES:
        notes.append(warning(path, f"a '{kind}' link reaches outside the lab; left out"))
        return None
    if kind != "veth":
        raise TopologyError([error(join_path(path, "type"), f"unknown link type '{kind}'")])
    ends_in = link.get("endpoints")
    if not isinstance(ends_in, list) or len(ends_in) != 2:
        raise TopologyError([error(join_path(path, "endpoints"), "a veth link has two endpoints")])
    ends = [_endpoint(end, join_path(path, "endpoints", i)) for i, end in enumerate(ends_in)]
    special = [e for e in ends if e.partition(":")[0] in SPECIAL_NODES]
    if special:
        notes.append(warning(path, f"links to {', '.join(special)} stay outside the lab; left out"))
        return None
    for key in link:
        if key not in LINK_KEYS:
            notes.append(
                warning(join_path(path, str(key)), f"containerlab's link '{key}' is not carried over")
            )
    return {"endpoints": ends}


def import_containerlab(data: Any) -> tuple[LabDoc, list[Problem]]:
    converted, notes = convert(data)
    return parse_document(converted), notes


# Export ------------------------------------------------------------------------------------


def to_containerlab(
    doc: LabDoc, addresses: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """A lab as containerlab data, with warnings for what is left out. `addresses` are the
    automatic ones the lab was given (`node:iface` -> address)."""
    addresses = addresses or {}
    notes: list[Problem] = []
    nodes: dict[str, dict[str, Any]] = {}
    links: list[dict[str, Any]] = []
    for name, node in doc.nodes.items():
        kind = get_kind(node.kind)
        if kind is None or kind.placed_on_host:
            notes.append(warning(join_path("nodes", name), "containerlab has no emulated Docker hosts: "
                                 "this container is left out"))  # fmt: skip
            continue
        if kind.bridges_ports:
            nodes[name] = {"kind": "bridge"}
            continue
        out: dict[str, Any] = {"kind": "linux", "image": node.image or EXPORT_IMAGE}
        commands = setup_commands(doc, name, addresses) + list(node.exec or [])
        if commands:
            out["exec"] = commands
        if node.env:
            out["env"] = dict(node.env)
        nodes[name] = out
    for name, net in doc.networks.items():
        if net.kind != "segment":
            notes.append(
                warning(join_path("networks", name), f"containerlab has no {net.kind} networks: left out")
            )
            continue
        nodes[name] = {"kind": "bridge"}
        port = 0
        for node_name, node in doc.nodes.items():
            for iface_name, iface in (node.interfaces or {}).items():
                if iface.network == name and node_name in nodes:
                    port += 1
                    links.append({"endpoints": [f"{node_name}:{iface_name}", f"{name}:p{port}"]})
    for link in doc.links:
        links.append({"endpoints": list(link.endpoints)})
    if any(n.get("kind") == "bridge" for n in nodes.values()):
        notes.append(warning("", "containerlab's bridge nodes are Linux bridges on its host: create them "
                             "(ip link add NAME type bridge) before deploying"))  # fmt: skip
    return {"name": doc.name, "topology": {"nodes": nodes, "links": links}}, notes
