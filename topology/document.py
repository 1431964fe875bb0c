"""The lab document: the versioned YAML/JSON form of a whole lab.

This module is the single source of truth for the format: the pydantic models below
parse and check its shape, and `document_json_schema()` derives the JSON Schema.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_core import ErrorDetails

from .exercise import ExerciseDoc
from .problems import Problem, TopologyError, error, join_path
from .strict import Strict

FORMAT_VERSION = 1
DEFAULT_NODE_IMAGE = "wirelab/node:busybox"
DEFAULT_PORT_RANGE = "31000-31999"
MAX_INSTANCES = 50  # of one app
DEFAULT_PUBLISH_RANGE = "1-65535"

# HOST:CONTAINER or one port alone (a number, or auto), then an optional /tcp or /udp
PORT_PATTERN = re.compile(
    r"^(?:(?P<host>auto|\d+):(?P<container>\d+)|(?P<alone>auto|\d+))(?:/(?P<proto>tcp|udp))?$"
)


class Position(Strict):
    """Where a node sits on the canvas."""

    x: float
    y: float


class Route(Strict):
    """A static route: `to` is a CIDR or `default`, `via` a next-hop address."""

    to: str = Field(description="a destination CIDR, or `default`")
    via: str = Field(description="the next hop: an address on one of the node's subnets")


class InterfaceDoc(Strict):
    """An interface of a host, router or switch: attached to a network or a link."""

    network: str | None = Field(
        default=None, description="the network it is attached to (or a link names it)"
    )
    address: str | None = Field(
        default=None, description="a static address/prefix, `auto`, or empty for automatic"
    )


class PortDoc(Strict):
    """A port of a container.

    In bridge mode it publishes `host` on the emulated host to `container`; in host mode
    it is a port the container takes on its host (`auto`: dynamic, given as PORTn).
    """

    host: int | Literal["auto"] = Field(
        default="auto", description="the port on the emulated host; `auto`: one of its `port_range`"
    )
    container: int | None = Field(default=None, description="bridge and CNI modes: the container's port")
    protocol: Literal["tcp", "udp"] = "tcp"
    name: str | None = Field(
        default=None,
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="host mode: the container also finds the port as PORT_NAME (its name in capitals)",
    )

    def short(self) -> str | int | dict[str, Any]:
        if self.name is not None:
            return self.model_dump(exclude_defaults=True)
        if self.container is None:
            return self.host if self.protocol == "tcp" else f"{self.host}/{self.protocol}"
        proto = "" if self.protocol == "tcp" else f"/{self.protocol}"
        return f"{self.host}:{self.container}{proto}"


def _host_port(text: str) -> int | str:
    return text if text == "auto" else int(text)


def parse_port(value: Any) -> Any:
    """Accept `10000:80`, `auto:80`, `80/udp`, `80`, `auto` or a mapping.

    `80` (number or text) is port 80 itself, never a dynamic one: only `auto` asks for that."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {"host": value}
    if isinstance(value, str):
        match = PORT_PATTERN.match(value.strip())
        if not match:
            raise ValueError(f"'{value}' is not a port: use HOST:CONTAINER[/udp], auto:CONTAINER or auto")
        port = {"protocol": match["proto"] or "tcp"}
        if match["alone"] is not None:
            return {"host": _host_port(match["alone"]), **port}
        return {"host": _host_port(match["host"]), "container": int(match["container"]), **port}
    return value


PortField = Annotated[PortDoc, Field()]


def parse_ports(value: Any) -> Any:
    return [parse_port(v) for v in value] if isinstance(value, list) else value


def env_as_text(value: Any) -> Any:
    """Environment values as text, as YAML people write them (`DEBUG: true`, `PORT: 80`)."""
    if isinstance(value, dict):
        return {
            k: (str(v).lower() if isinstance(v, bool) else str(v))
            if isinstance(v, (str, int, float, bool))
            else v
            for k, v in value.items()
        }
    return value


class PlacementDoc(Strict):
    """Where a lab (or one host or router of it) runs: pinned to a lab host by name (otherwise
    the scheduler chooses)."""

    labhost: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$", description="the lab host to run on")


class _Runs(Strict):
    """What runs a container (a node, an app): ports and environment as people write them."""

    @field_validator("ports", "env", mode="before", check_fields=False)
    @classmethod
    def _written(cls, value: Any, info: ValidationInfo) -> Any:
        return parse_ports(value) if info.field_name == "ports" else env_as_text(value)


class NodeDoc(_Runs):
    """A node: a host, router, switch or container (see `topology.kinds`)."""

    kind: str = Field(description="host, router, switch or container (`GET /api/kinds/` lists them)")
    image: str | None = Field(
        default=None, description="the container image (each kind has a default but containers)"
    )
    host: str | None = Field(default=None, description="containers: the emulated host")
    mode: str | None = Field(
        default=None, description="containers: host, bridge, overlay:NETWORK, cni:NETWORK or none"
    )
    address: str | None = Field(
        default=None, description="containers in bridge or overlay mode: a static address"
    )
    command: str | list[str] | None = Field(
        default=None, description="containers: what they run (a string runs in sh -c)"
    )
    env: dict[str, str] = Field(default_factory=dict, description="environment variables")
    exec: list[str] = Field(default_factory=list, description="commands run once wired")
    files: dict[str, str] = Field(
        default_factory=dict, description="small text files put in the node before it starts: path -> content"
    )
    interfaces: dict[str, InterfaceDoc] = Field(
        default_factory=dict, description="hosts, routers and switches"
    )
    routes: list[Route] = Field(default_factory=list, description="static routes")
    gateway: Literal["auto", "none"] | None = Field(
        default=None,
        description="hosts: 'auto' (the default) routes what has no route of its own through the one "
        "router on the host's networks; 'none' does not",
    )
    ports: list[PortField] = Field(
        default_factory=list, description="containers: HOST:CONTAINER[/udp], auto:CONTAINER, a number or auto"
    )
    port_range: str | None = Field(
        default=None, description="hosts: range for automatic ports, e.g. 31000-31999"
    )
    publish_range: str | None = Field(
        default=None, description="hosts: host ports containers may publish, e.g. 1-65535"
    )
    placement: PlacementDoc | None = Field(
        default=None, description="hosts and routers: the lab host it runs on, when the lab spans several"
    )
    attributes: dict[str, str] = Field(
        default_factory=dict,
        description="hosts: what the orchestrator's constraints match, as a Mesos agent's (rack: a)",
    )
    position: Position | None = Field(default=None, description="where the editor draws it")

    @field_validator("interfaces", mode="before")
    @classmethod
    def _interfaces(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value


class NetworkDoc(Strict):
    """A network: an L2 `segment`, a host's docker0-like `bridge`, an `overlay`, or a `cni`
    network (a CNI configuration list run on a host for the containers that join it)."""

    kind: Literal["segment", "bridge", "overlay", "cni"]
    subnet: str | None = Field(default=None, description="where automatic addresses come from")
    host: str | None = Field(default=None, description="bridge and cni networks: the host it is on")
    config: dict[str, Any] | None = Field(
        default=None, description="cni networks: the CNI network configuration list ({cniVersion, plugins})"
    )
    position: Position | None = None


class LinkDoc(Strict):
    """A point-to-point link between two interfaces, written `node:interface`."""

    endpoints: list[str] = Field(min_length=2, max_length=2, description="its two ends, `node:interface`")
    subnet: str | None = Field(default=None, description="where its ends' automatic addresses come from")


class ServiceDoc(Strict):
    """A virtual IP and port in front of several backends, balanced by the kernel (nftables
    `numgen` DNAT in every host and router of the lab, as kube-proxy does on every node)."""

    address: str = Field(description="the virtual IP (an unused address of a LAN reaches every client on it)")
    port: int = Field(description="the port clients connect to")
    protocol: Literal["tcp", "udp"] = "tcp"
    backends: list[str] = Field(
        description="nodes behind it: hosts, routers, host-mode containers, or bridge-mode containers "
        "publishing target_port"
    )
    target_port: int | None = Field(default=None, description="the backends' port (default: port)")
    position: Position | None = None


class HealthDoc(Strict):
    """A health check of an app's instances, as Marathon's: made from the instance's own network
    namespace every `interval` seconds once `grace` has passed; after `max_failures` failures in a
    row the instance is started anew (0: never). An unhealthy instance leaves its app's VIP."""

    protocol: Literal["tcp", "http", "command"] = Field(
        description="tcp: a connection; http: a 2xx or 3xx answer; command: exit 0"
    )
    port_index: int = Field(default=0, ge=0, description="tcp and http: which of the app's ports")
    port: int | None = Field(default=None, ge=1, le=65535, description="tcp and http: this port instead")
    path: str = Field(default="/", max_length=200, description="http: the path asked for")
    command: str | None = Field(
        default=None, max_length=1000, description="command: run in the instance with sh -c"
    )
    interval: int = Field(default=10, ge=2, le=3600, description="seconds between checks")
    timeout: int = Field(default=5, ge=1, le=20, description="seconds a check may take")
    max_failures: int = Field(
        default=3, ge=0, le=100, description="failures in a row that restart the instance"
    )
    grace: int = Field(
        default=30, ge=0, le=3600, description="seconds after a start when failures do not count"
    )


class AppDoc(_Runs):
    """An app of the lab's orchestrator (Marathon's): `instances` containers of one kind, placed
    on its agents by the scheduler, each instance named APP.N."""

    instances: int = Field(default=1, ge=0, le=MAX_INSTANCES, description="how many containers run it")
    image: str = Field(description="the container image")
    command: str | list[str] | None = Field(default=None, description="what it runs (a string runs in sh -c)")
    env: dict[str, str] = Field(default_factory=dict, description="environment variables")
    mode: str = Field(default="host", description="host, bridge or overlay:NETWORK")
    ports: list[PortField] = Field(
        default_factory=list,
        description="host mode: a port, or auto (brokered: PORT0...); bridge mode: HOST:CONTAINER or "
        "auto:CONTAINER",
    )
    constraints: list[list[str]] = Field(
        default_factory=list,
        description="Marathon's: [field, operator, value], field hostname or an agent attribute, operator "
        "UNIQUE, CLUSTER, LIKE, UNLIKE, GROUP_BY or MAX_PER",
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Marathon's labels; VIP_N: ADDRESS:PORT balances it over healthy instances (port N)",
    )
    health: list[HealthDoc] = Field(default_factory=list, max_length=4, description="health checks")
    position: Position | None = Field(default=None, description="where the editor draws it")


class OrchestratorDoc(Strict):
    """The lab's orchestrator: its agents, and its REST API at http://marathon:8080 in every node."""

    agents: list[str] = Field(min_length=1, description="the hosts it places app instances on")


class LabDoc(Strict):
    """A whole lab."""

    wirelab: int = Field(default=FORMAT_VERSION, description="format version")
    name: str = Field(description="the lab's name")
    description: str = Field(default="", description="a sentence or two for the lab's page")
    nodes: dict[str, NodeDoc] = Field(default_factory=dict)
    networks: dict[str, NetworkDoc] = Field(default_factory=dict)
    links: list[LinkDoc] = Field(default_factory=list)
    exercise: ExerciseDoc | None = Field(
        default=None, description="makes the lab a classroom exercise: instructions, checks, rules"
    )
    placement: PlacementDoc | None = Field(default=None, description="pins the lab to a lab host")
    services: dict[str, ServiceDoc] = Field(
        default_factory=dict, description="virtual IPs balanced over backends by the kernel"
    )
    orchestrator: OrchestratorDoc | None = Field(
        default=None, description="a Marathon-style orchestrator placing `apps` on its agents"
    )
    apps: dict[str, AppDoc] = Field(default_factory=dict, description="the orchestrator's apps")

    @field_validator("nodes", "networks", "services", "apps", mode="before")
    @classmethod
    def _no_null_maps(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("links", mode="before")
    @classmethod
    def _no_null_links(cls, value: Any) -> Any:
        return [] if value is None else value


def document_json_schema() -> dict[str, Any]:
    """The JSON Schema of the lab document, derived from the models above."""
    return LabDoc.model_json_schema()


MAX_YAML_EVENTS = 400_000  # scalars and collections in one document: far beyond any real lab
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[valid-type,misc]  # chosen at import
    """YAML loader (libyaml's parser where it is there) that refuses a key given twice
    (plain YAML keeps the last silently)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                raise yaml.constructor.ConstructorError(
                    None, None, "a mapping key must be a plain value", key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(
                    None, None, f"'{key}' is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


# YAML 1.1 reads `8080:22` as the base-60 number 484822 (and `1:30` as 90): a port mapping
# turned into a number. Numbers are read as YAML 1.2 reads them; such values stay text.
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*|0b[01_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")
    ]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_UniqueKeyLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _refuse_aliases_and_bulk(text: str) -> None:
    """Aliases can make a few kilobytes into millions of nodes; a lab never needs one."""
    for count, event in enumerate(yaml.parse(text, Loader=_SafeLoader)):
        if isinstance(event, yaml.AliasEvent):
            mark = event.start_mark
            where = f" at line {mark.line + 1}" if mark else ""
            raise TopologyError(
                [error("", f"YAML aliases (*name) are not accepted{where}: write the value out")]
            )
        if count >= MAX_YAML_EVENTS:
            raise TopologyError([error("", f"the document has more than {MAX_YAML_EVENTS} values")])


def _json_object_without_duplicates(pairs: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"'{key}' is given twice")
        out[key] = value
    return out


def load_text(text: str | bytes, max_bytes: int) -> Any:
    """Parse YAML or JSON text into plain data, or raise TopologyError."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise TopologyError([error("", f"the document is {size} bytes; the limit is {max_bytes} bytes")])
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise TopologyError([error("", "the document is not UTF-8 text")]) from None
    try:
        # JSON is YAML, but JSON's own parser gives clearer messages for JSON text.
        if text.lstrip().startswith("{"):
            return json.loads(text, object_pairs_hook=_json_object_without_duplicates)
        _refuse_aliases_and_bulk(text)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except (json.JSONDecodeError, ValueError) as exc:
        raise TopologyError([error("", f"not valid JSON: {exc}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise TopologyError([error("", f"not valid YAML{where}: {reason}")]) from None
    except RecursionError:
        raise TopologyError([error("", "the document is nested too deeply")]) from None


def _problem_from_pydantic(err: ErrorDetails) -> Problem:
    loc = [part for part in err["loc"] if not _is_union_tag(part)]
    path = join_path(*loc)
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = f"unknown field '{loc[-1]}'" if loc else "unknown field"
        path = join_path(*loc)
    elif err["type"] == "missing":
        message = "this field is required"
    elif message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    return error(path, message)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part in {"str", "int", "list[str]"})


def parse_document(data: Any) -> LabDoc:
    """Turn plain data into a LabDoc, or raise TopologyError with every shape problem."""
    if not isinstance(data, dict):
        raise TopologyError([error("", "the document must be a mapping with `name` and `nodes`")])
    version = data.get("wirelab", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise TopologyError(
            [error("wirelab", f"format version {version!r} is not supported (this is {FORMAT_VERSION})")]
        )
    try:
        return LabDoc.model_validate(data)
    except ValidationError as exc:
        problems = list(dict.fromkeys(_problem_from_pydantic(e) for e in exc.errors()))
        raise TopologyError(problems) from None
    except RecursionError:
        raise TopologyError([error("", "the document is nested too deeply")]) from None


def read_document(text: str | bytes, max_bytes: int = 1_000_000) -> LabDoc:
    """Parse stage: text to a LabDoc whose shape is right (references not yet checked)."""
    return parse_document(load_text(text, max_bytes))


def document_to_data(doc: LabDoc) -> dict[str, Any]:
    """Plain data for a LabDoc, in the short form people write by hand."""
    data: dict[str, Any] = {"wirelab": FORMAT_VERSION, "name": doc.name}
    if doc.description:
        data["description"] = doc.description
    if doc.networks:
        data["networks"] = {name: net.model_dump(exclude_defaults=True) for name, net in doc.networks.items()}
    data["nodes"] = {}
    for name, node in doc.nodes.items():
        item = node.model_dump(exclude_defaults=True, exclude={"ports", "interfaces", "position"})
        if node.interfaces:
            item["interfaces"] = {n: i.model_dump(exclude_defaults=True) for n, i in node.interfaces.items()}
        if node.ports:
            item["ports"] = [p.short() for p in node.ports]
        if node.position:
            item["position"] = node.position.model_dump()
        data["nodes"][name] = item
    if doc.links:
        data["links"] = [link.model_dump(exclude_defaults=True) for link in doc.links]
    if doc.exercise is not None:
        data["exercise"] = doc.exercise.model_dump(mode="json", exclude_defaults=True, by_alias=True)
    if doc.placement is not None:
        data["placement"] = doc.placement.model_dump()
    if doc.services:
        data["services"] = {name: svc.model_dump(exclude_defaults=True) for name, svc in doc.services.items()}
    if doc.orchestrator is not None:
        data["orchestrator"] = doc.orchestrator.model_dump()
    if doc.apps:
        data["apps"] = {name: _app_data(app) for name, app in doc.apps.items()}
    return data


def _app_data(app: AppDoc) -> dict[str, Any]:
    item = app.model_dump(exclude_defaults=True, exclude={"ports", "position"})
    item["instances"] = app.instances  # said even when 1: it is what people change
    if app.ports:
        item["ports"] = [p.short() for p in app.ports]
    if app.position:
        item["position"] = app.position.model_dump()
    return item


def dump_document(doc: LabDoc, fmt: Literal["yaml", "json"] = "yaml") -> str:
    data = document_to_data(doc)
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None, width=100)
