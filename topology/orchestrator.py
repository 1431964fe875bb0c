"""The lab's orchestrator as data, as Marathon's: where each app's instances run (the
scheduler), and the instances as the lab's containers.

An app with `instances: 3` is three containers, `APP.1` to `APP.3`, each on one of the
orchestrator's agents (hosts of the lab). Where they run is an assignment, kept with the lab's
addresses and ports: an instance stays on its agent while that agent still suits it, so scaling
or editing one app never moves another's instances. New instances go where the app has fewest,
then where the agent runs fewest of all (Marathon's spreading), honouring the app's constraints
and the agents' ports: a fixed host port taken once per agent, brokered ports out of the
agent's `port_range`.

The instances are then ordinary containers of the document (`with_instances`), so addresses,
brokered ports (PORT0, PORT1, ...), publishing, overlays, names and services all work for them
unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .addressing import host_mode_port, parse_range
from .document import DEFAULT_PORT_RANGE, AppDoc, LabDoc, NodeDoc, ServiceDoc
from .kinds import kind_of, split_mode
from .problems import Problem, error, join_path

HOSTNAME = "hostname"
VIP_LABEL = re.compile(r"^VIP_(\d{1,2})$")
OPERATORS = ("UNIQUE", "CLUSTER", "LIKE", "UNLIKE", "GROUP_BY", "MAX_PER")
MODES = ("host", "bridge", "overlay")


def instance_name(app: str, index: int) -> str:
    return f"{app}.{index}"


@dataclass
class Agent:
    """One agent as the scheduler sees it while it places: what it runs and what it has left."""

    name: str
    attributes: dict[str, str]
    fixed: set[tuple[str, int]]  # host ports taken: (protocol, port)
    free_dynamic: int  # ports of its range left to broker
    span: tuple[int, int] = (0, -1)  # its port_range
    running: dict[str, int] = field(default_factory=dict)  # app -> instances placed here

    def value(self, attribute: str) -> str | None:
        return self.name if attribute == HOSTNAME else self.attributes.get(attribute)

    @property
    def total(self) -> int:
        return sum(self.running.values())


def schedule(
    doc: LabDoc, previous: dict[str, str] | None = None, down: Iterable[str] = ()
) -> tuple[dict[str, str], list[Problem]]:
    """Every app instance's agent (instance -> agent), and what could not be placed and why.

    `previous`: where instances ran; each stays unless its agent is gone, `down` or no longer
    suits it. Instances beyond an app's count are dropped (scaling down ends the newest)."""
    if doc.orchestrator is None:
        return {}, [
            error(join_path("apps", name), "a lab with apps needs an `orchestrator`") for name in doc.apps
        ]
    problems = check_orchestrator(doc)
    agents = _agents(doc, set(down))
    previous = previous or {}
    placement: dict[str, str] = {}
    for name, app in doc.apps.items():
        if problems_of(name, app, doc):
            continue
        placed, why = _Placing(name, app, agents).run(previous)
        placement.update(placed)
        if why:
            problems.append(error(join_path("apps", name), why))
    return placement, problems


def check_orchestrator(doc: LabDoc) -> list[Problem]:
    out = []
    assert doc.orchestrator is not None
    for index, agent in enumerate(doc.orchestrator.agents):
        node = doc.nodes.get(agent)
        path = join_path("orchestrator", "agents", index)
        if node is None:
            out.append(error(path, f"no node named '{agent}'"))
        elif not kind_of(node).holds_containers:
            out.append(error(path, f"'{agent}' is a {node.kind}; agents are hosts"))
    for name, app in doc.apps.items():
        out += problems_of(name, app, doc)
    return out


def problems_of(name: str, app: AppDoc, doc: LabDoc) -> list[Problem]:
    """What is wrong with an app itself, before anything is placed."""
    path = join_path("apps", name)
    out = []
    if name in doc.nodes or name in doc.services:
        out.append(
            error(path, f"'{name}' also names a node or a service of the lab: an app needs a name of its own")
        )
    base, network = split_mode(app.mode)
    if base not in MODES:
        out.append(
            error(path + ".mode", f"'{app.mode}': an app runs in host, bridge or overlay:NETWORK mode")
        )
    elif base == "overlay" and (
        doc.networks.get(network or "") is None or doc.networks[network or ""].kind != "overlay"
    ):
        out.append(error(path + ".mode", f"no overlay network named '{network}'"))
    for index, port in enumerate(app.ports):
        if base == "bridge" and port.container is None:
            out.append(
                error(
                    join_path(path, "ports", index), "bridge mode publishes HOST:CONTAINER or auto:CONTAINER"
                )
            )
    for index, constraint in enumerate(app.constraints):
        why = _constraint_problem(constraint)
        if why:
            out.append(error(join_path(path, "constraints", index), why))
    for label, value in app.labels.items():
        if VIP_LABEL.match(label):
            why = _vip_problem(app, int(label[4:]), value)
            if why:
                out.append(error(join_path(path, "labels", label), why))
    for index, check in enumerate(app.health):
        where = join_path(path, "health", index)
        if check.protocol == "command" and not (check.command or "").strip():
            out.append(error(where + ".command", "a command check runs a command: give it"))
        if check.protocol != "command" and check.port is None and check.port_index >= len(app.ports):
            out.append(
                error(
                    where + ".port_index",
                    f"the app has {len(app.ports)} port(s): give `port` or a port it has",
                )
            )
        if check.timeout > check.interval:
            out.append(error(where + ".timeout", "a check's timeout is at most its interval"))
    return out


def vips(app: AppDoc) -> dict[int, tuple[str, int]]:
    """The app's VIP labels: port index -> (address, port)."""
    out = {}
    for label, value in app.labels.items():
        found = VIP_LABEL.match(label)
        address, _, port = value.strip().rpartition(":")
        if found and address and port.isdigit() and not address.startswith("/"):
            out[int(found[1])] = (address, int(port))
    return out


def _vip_problem(app: AppDoc, index: int, value: str) -> str:
    address, _, port = value.strip().rpartition(":")
    if address.startswith("/") or not address:
        return (
            f"'{value}': give the virtual IP as ADDRESS:PORT, an unused address of the agents' LAN "
            "(e.g. 198.18.0.200:80); a named VIP has no address in the lab"
        )
    if not port.isdigit():
        return f"'{value}' is not ADDRESS:PORT"
    if app.mode.startswith("overlay"):
        return "a VIP balances over host or bridge mode instances, reached at their agents"
    if index >= len(app.ports):
        return f"VIP_{index} is for the app's port {index}, and it has {len(app.ports)}"
    given = app.ports[index]
    if app.mode == "host" and index > 0 and host_mode_port(given) == "auto":
        return "a VIP over a brokered port is served for the first port only (PORT0)"
    return ""


def _constraint_problem(constraint: list[str]) -> str:
    if len(constraint) < 2 or len(constraint) > 3:
        return "a constraint is [field, operator] or [field, operator, value]"
    operator = constraint[1]
    if operator not in OPERATORS:
        return f"'{operator}' is no operator: use one of {', '.join(OPERATORS)}"
    if operator in ("CLUSTER", "LIKE", "UNLIKE", "MAX_PER") and len(constraint) != 3:
        return f"{operator} needs a value: [{constraint[0]}, {operator}, VALUE]"
    if operator in ("LIKE", "UNLIKE"):
        try:
            re.compile(constraint[2])
        except re.error as exc:
            return f"'{constraint[2]}' is not a regular expression: {exc}"
    if operator in ("MAX_PER", "GROUP_BY") and len(constraint) == 3 and not constraint[2].isdigit():
        return f"{operator}'s value is a number"
    return ""


def _agents(doc: LabDoc, down: set[str]) -> list[Agent]:
    """The agents that run, each with the ports its own containers (not app instances) take."""
    assert doc.orchestrator is not None
    out = []
    for name in dict.fromkeys(doc.orchestrator.agents):
        node = doc.nodes.get(name)
        if node is None or not kind_of(node).holds_containers or name in down:
            continue
        span = parse_range(node.port_range, DEFAULT_PORT_RANGE) or (0, -1)
        fixed: set[tuple[str, int]] = set()
        dynamic = 0
        for container in doc.nodes.values():
            if not kind_of(container).placed_on_host or container.host != name:
                continue
            base, _ = split_mode(container.mode)
            for port in container.ports:
                value = host_mode_port(port) if base == "host" else port.host
                if value == "auto":
                    dynamic += 1
                elif base in ("host", "bridge", "cni"):
                    fixed.add((port.protocol, value))
        in_range = sum(1 for _, p in fixed if span[0] <= p <= span[1])
        free = span[1] - span[0] + 1 - in_range - dynamic
        out.append(Agent(name, dict(node.attributes), fixed, free, span))
    return out


def _ports_of(app: AppDoc) -> tuple[set[tuple[str, int]], int]:
    """The fixed host ports an instance takes on its agent, and how many it has brokered."""
    base, _ = split_mode(app.mode)
    if base == "overlay":
        return set(), 0
    fixed: set[tuple[str, int]] = set()
    dynamic = 0
    for port in app.ports:
        value = host_mode_port(port) if base == "host" else port.host
        if value == "auto":
            dynamic += 1
        else:
            fixed.add((port.protocol, value))
    return fixed, dynamic


class _Placing:
    """One app being placed over the agents (which it updates as it goes)."""

    def __init__(self, name: str, app: AppDoc, agents: list[Agent]):
        self.name, self.app, self.agents = name, app, agents
        self.fixed, self.dynamic = _ports_of(app)

    def run(self, previous: dict[str, str]) -> tuple[dict[str, str], str]:
        by_name = {a.name: a for a in self.agents}
        placed: dict[str, str] = {}
        wanted = [instance_name(self.name, n) for n in range(1, self.app.instances + 1)]
        for instance in wanted:
            agent = by_name.get(previous.get(instance, ""))
            if agent is not None and not self.unsuited(agent):
                placed[instance] = self.take(agent)
        for instance in wanted:
            if instance in placed:
                continue
            fits = [a for a in self.agents if not self.unsuited(a)]
            if not fits:
                return placed, self.why_not(len(placed))
            placed[instance] = self.take(
                min(fits, key=lambda a: (self.spread(a), a.running.get(self.name, 0), a.total))
            )
        return placed, ""

    def take(self, agent: Agent) -> str:
        agent.running[self.name] = agent.running.get(self.name, 0) + 1
        agent.fixed |= self.fixed
        agent.free_dynamic -= self.dynamic
        return agent.name

    def spread(self, agent: Agent) -> int:
        """GROUP_BY: how many of the app run where this agent's value is (fewest first)."""
        for field_name, operator, *_ in self.app.constraints:
            if operator == "GROUP_BY":
                value = agent.value(field_name)
                return sum(a.running.get(self.name, 0) for a in self.agents if a.value(field_name) == value)
        return 0

    def unsuited(self, agent: Agent) -> str:
        """Why `agent` cannot take one more instance of the app now ('' when it can)."""
        for constraint in self.app.constraints:
            if self.refuses(constraint, agent):
                return "constraint"
        taken = self.fixed & agent.fixed
        if taken:
            protocol, port = sorted(taken)[0]
            return f"port:{port}/{protocol}"
        return "port:range" if self.dynamic > agent.free_dynamic else ""

    def refuses(self, constraint: list[str], agent: Agent) -> bool:
        field_name, operator, *rest = constraint
        value, wanted = agent.value(field_name), rest[0] if rest else ""
        here = sum(
            a.running.get(self.name, 0)
            for a in self.agents
            if value is not None and a.value(field_name) == value
        )
        if operator == "UNIQUE":
            return value is None or here > 0
        if operator == "CLUSTER":
            return value != wanted
        if operator == "LIKE":
            return value is None or not re.fullmatch(wanted, value)
        if operator == "UNLIKE":
            return value is not None and bool(re.fullmatch(wanted, value))
        if operator == "MAX_PER":
            return value is None or here >= int(wanted)
        return False  # GROUP_BY spreads; it never refuses

    def why_not(self, placed: int) -> str:
        """The sentence an unplaceable app gets, naming what stopped it."""
        count, which = self.app.instances, f"instance {placed + 1} of {self.app.instances}"
        if not self.agents:
            return f"{count} instance(s) wanted, but no agent of the orchestrator runs"
        for constraint in self.app.constraints:
            if all(self.refuses(constraint, a) for a in self.agents):
                text = ":".join(constraint)
                if constraint[1] == "UNIQUE":
                    values = {a.value(constraint[0]) for a in self.agents} - {None}
                    where = (
                        "agents"
                        if constraint[0] == HOSTNAME
                        else f"values of {constraint[0]} among the agents"
                    )
                    return f"constraint {text} needs {count} {where}, the lab has {len(values)}"
                return f"constraint {text} leaves no agent for {which}"
        reasons = {self.unsuited(a) for a in self.agents}
        if reasons == {"port:range"}:
            spans = sorted({f"{a.span[0]}-{a.span[1]}" for a in self.agents})
            return f"no agent with free port in {', '.join(spans)} for {which}"
        ports = sorted(r.split(":", 1)[1] for r in reasons if r.startswith("port:") and r != "port:range")
        if ports:
            return f"no agent with port {ports[0]} free for {which}"
        return f"no agent suits {which}"


def with_instances(doc: LabDoc, placement: dict[str, str]) -> LabDoc:
    """The document with each placed instance as a container node of its agent."""
    if not placement:
        return doc
    nodes, services = dict(doc.nodes), dict(doc.services)
    for name, app in doc.apps.items():
        backends = [i for i in placement if i.rpartition(".")[0] == name]
        for index, (address, port) in sorted(vips(app).items()) if backends else ():
            given = app.ports[index] if index < len(app.ports) else None
            if given is None:
                continue
            target = given.container if app.mode == "bridge" else host_mode_port(given)
            services[vip_service(name, index)] = ServiceDoc(
                address=address, port=port, protocol=given.protocol, backends=backends,
                target_port=target if isinstance(target, int) else None,
            )  # fmt: skip
    for instance, agent in placement.items():
        app_name = instance.rpartition(".")[0]
        app = doc.apps[app_name]
        env = {
            **app.env,
            "MARATHON_APP_ID": f"/{app_name}",
            "MESOS_TASK_ID": instance,
            "HOST": agent,
        }
        nodes[instance] = NodeDoc(
            kind="container",
            host=agent,
            image=app.image,
            mode=app.mode,
            command=app.command,
            env=env,
            ports=[p.model_copy() for p in app.ports],
        )
    return doc.model_copy(update={"nodes": nodes, "services": services})


def vip_service(app: str, index: int) -> str:
    """The service an app's VIP_N label makes: the app's own name for its first port."""
    return app if index == 0 else f"{app}-vip{index}"


def retarget(problems: list[Problem], placement: dict[str, str], doc: LabDoc | None = None) -> list[Problem]:
    """Problems found in an instance's container, or in the service of a VIP label, said of its app."""
    made = {
        vip_service(name, index): join_path("apps", name, "labels", f"VIP_{index}")
        for name, app in (doc.apps.items() if doc else ())
        for index in vips(app)
    }
    out = []
    for problem in problems:
        service = problem.path.removeprefix("services.").split(".")[0].split("[")[0]
        if problem.path.startswith("services.") and service in made:
            out.append(Problem(made[service], problem.message, problem.severity))
            continue
        head = problem.path.removeprefix("nodes.")
        found = next(
            (i for i in placement if head == i or head.startswith(f"{i}.") or head.startswith(f"{i}[")), None
        )
        if found is None:
            out.append(problem)
            continue
        rest = head[len(found) :].lstrip(".")
        path = join_path("apps", found.rpartition(".")[0]) + (
            f".{rest}" if rest and not rest.startswith("[") else rest
        )
        out.append(
            Problem(path, f"instance {found} on {placement[found]}: {problem.message}", problem.severity)
        )
    return out
