"""Troubleshooting: faults that break a working lab, drawn per student from an exercise's
catalogue, each a change of the lab document the student must find and undo.

- `route`: a node's static route goes missing (no `via`), or points at a wrong `via`;
- `cable`: the cable at an interface is gone;
- `port`: a container's published host port leads to a wrong container port (a wrong NAT rule);
- `command`: a command run in a node once it is wired (a daemon stopped, an MTU changed, a NAT
  rule deleted): it shows among the node's commands.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field, model_validator

from .strict import Strict

MAX_FAULTS = 30


class RouteFault(Strict):
    node: str = Field(max_length=63)
    to: str = Field(max_length=50, description="the route's destination, as the node has it")
    via: str | None = Field(
        default=None, max_length=50, description="a wrong next hop (none: the route goes)"
    )


class PortFault(Strict):
    node: str = Field(max_length=63)
    host: int = Field(gt=0, lt=65536, description="the published host port")
    container: int = Field(gt=0, lt=65536, description="the wrong container port it leads to")


class CommandFault(Strict):
    node: str = Field(max_length=63)
    run: str = Field(min_length=1, max_length=500, description="a shell line")


class FaultDoc(Strict):
    """One fault of the catalogue: exactly one kind, and what the teacher reads of it."""

    title: str = Field(default="", max_length=200)
    route: RouteFault | None = None
    cable: str | None = Field(default=None, max_length=80, description="NODE:INTERFACE")
    port: PortFault | None = None
    command: CommandFault | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> FaultDoc:
        given = [k for k in ("route", "cable", "port", "command") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a fault has exactly one of route, cable, port, command; this one has {len(given)}"
            )
        if self.cable is not None and self.cable.count(":") != 1:
            raise ValueError("a cable fault names an end: NODE:INTERFACE")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("route", "cable", "port", "command") if getattr(self, k) is not None)

    def node(self) -> str:
        return self.cable.partition(":")[0] if self.cable is not None else getattr(self, self.kind).node

    def describe(self) -> str:
        if self.title:
            return self.title
        if self.route is not None:
            route = self.route
            return f"{route.node}'s route to {route.to} " + (
                f"goes via {route.via}" if route.via else "is missing"
            )
        if self.cable is not None:
            return f"the cable at {self.cable} is gone"
        if self.port is not None:
            return f"{self.port.node}'s port {self.port.host} leads to {self.port.container}"
        assert self.command is not None
        return f"on {self.command.node}: {self.command.run}"


class FaultsDoc(Strict):
    """How many faults each student's lab gets, and the catalogue they are drawn from."""

    pick: int = Field(default=1, ge=1, le=10)
    from_: list[FaultDoc] = Field(alias="from", min_length=1, max_length=MAX_FAULTS)

    @model_validator(mode="after")
    def _enough(self) -> FaultsDoc:
        if self.pick > len(self.from_):
            raise ValueError(f"`pick` is {self.pick}, but the catalogue has {len(self.from_)} faults")
        return self


def draw_faults(faults: FaultsDoc, seed: str) -> list[int]:
    """Which faults of the catalogue a seed draws, in the catalogue's order."""
    rng = random.Random(f"faults:{seed}")  # noqa: S311 - reproducible from the seed, its secret part
    return sorted(rng.sample(range(len(faults.from_)), faults.pick))


def apply_fault(data: dict[str, Any], fault: FaultDoc) -> dict[str, Any]:
    """The lab document's data with the fault in it; ValueError when it names what is not there."""
    nodes = data.get("nodes") or {}
    name = fault.node()
    if name not in nodes:
        raise ValueError(f"there is no node {name}")
    node = dict(nodes[name])
    if fault.route is not None:
        node["routes"] = _routes_with(node.get("routes") or [], fault.route, name)
    elif fault.cable is not None:
        links = data.get("links") or []
        kept = [link for link in links if fault.cable not in link.get("endpoints", [])]
        if len(kept) == len(links):
            raise ValueError(f"no cable ends at {fault.cable}")
        return {**data, "links": kept}
    elif fault.port is not None:
        node["ports"] = _ports_with(node.get("ports") or [], fault.port, name)
    elif fault.command is not None:
        node["exec"] = [*(node.get("exec") or []), fault.command.run]
    return {**data, "nodes": {**nodes, name: node}}


def _routes_with(routes: list[dict[str, Any]], fault: RouteFault, node: str) -> list[dict[str, Any]]:
    if not any(route.get("to") == fault.to for route in routes):
        raise ValueError(f"{node} has no route to {fault.to}")
    if fault.via is None:
        return [route for route in routes if route.get("to") != fault.to]
    return [{**route, "via": fault.via} if route.get("to") == fault.to else route for route in routes]


def _ports_with(ports: list[Any], fault: PortFault, node: str) -> list[Any]:
    def host_of(port: Any) -> int | None:
        if isinstance(port, dict):
            return port.get("host")
        text = str(port).split("/")[0]
        return int(text.split(":")[0]) if ":" in text and text.split(":")[0].isdigit() else None

    if not any(host_of(port) == fault.host for port in ports):
        raise ValueError(f"{node} publishes no port {fault.host}")
    wrong = f"{fault.host}:{fault.container}"
    return [wrong if host_of(port) == fault.host else port for port in ports]
