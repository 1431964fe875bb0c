"""Marathon's app JSON and the lab document's apps, both ways.

A learner posts an app as the primer's era wrote them (Marathon 1.x: `portDefinitions` or
`ports`, `container.docker.network` HOST or BRIDGE with `portMappings`, `ipAddress.networkName`
or `networks` for a virtual network); it becomes an `apps` entry of the lab document, the same
one the editor writes. What the lab does not do is refused by name (`Invalid`, answered as
Marathon's 422), never dropped; what only tunes a real cluster (resources, upgrade pacing) is
accepted and said to be ignored.
"""

from __future__ import annotations

import re
from typing import Any

from .document import AppDoc, HealthDoc

APP_ID = re.compile(r"^/?([a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?)$")
KNOWN = {"id", "cmd", "args", "instances", "env", "container", "portDefinitions", "ports", "constraints",
         "labels", "ipAddress", "networks", "requirePorts", "healthChecks"}  # fmt: skip
IGNORED = {"cpus", "mem", "disk", "gpus", "upgradeStrategy", "backoffSeconds", "backoffFactor",
           "maxLaunchDelaySeconds", "version", "versionInfo", "user", "uris", "fetch", "storeUrls",
           "acceptedResourceRoles", "killSelection", "unreachableStrategy", "executor", "dependencies",
           "taskKillGracePeriodSeconds", "residency", "secrets", "tasksRunning", "tasksStaged",
           "tasksHealthy", "tasksUnhealthy", "deployments", "tasks", "lastTaskFailure"}  # fmt: skip
NOT_YET = {"readinessChecks"}
HEALTH_FIELDS = {"portIndex": "port_index", "port": "port", "path": "path", "intervalSeconds": "interval",
                 "timeoutSeconds": "timeout", "maxConsecutiveFailures": "max_failures",
                 "gracePeriodSeconds": "grace"}  # fmt: skip
HEALTH_IGNORED = {"ignoreHttp1xx", "delaySeconds", "protocol", "command"}
NETWORK_MODES = {"HOST": "host", "BRIDGE": "bridge"}


class Invalid(Exception):
    """An app JSON the lab cannot run: Marathon's `details`, each a path and its errors."""

    def __init__(self, details: list[dict[str, Any]]):
        self.details = details
        super().__init__("; ".join(f"{d['path']}: {', '.join(d['errors'])}" for d in details))


def app_id(text: str) -> str:
    """The app's name for an id (`/web` or `web`); Invalid for a group path or a bad name."""
    found = APP_ID.match(text or "")
    if not found:
        why = (
            "apps in groups (/group/app) are not served here: use an id of one part"
            if "/" in (text or "").strip("/")
            else "an id is lowercase letters, digits and hyphens, at most 40, e.g. /web"
        )
        raise Invalid([{"path": "/id", "errors": [why]}])
    return found[1]


def from_marathon(body: Any) -> tuple[str, dict[str, Any], list[str]]:
    """An app JSON as (its name, the document's app data, the fields ignored)."""
    if not isinstance(body, dict):
        raise Invalid([{"path": "/", "errors": ["an app is a JSON object"]}])
    problems: list[dict[str, Any]] = []

    def bad(path: str, why: str) -> None:
        problems.append({"path": path, "errors": [why]})

    for key in body:
        if key in NOT_YET:
            bad(f"/{key}", "not served by this lab's orchestrator yet")
        elif key not in KNOWN and key not in IGNORED:
            bad(f"/{key}", "unknown field")
    name = app_id(str(body.get("id", "")))
    app: dict[str, Any] = {"instances": body.get("instances", 1)}
    container = body.get("container") or {}
    docker = container.get("docker") or {} if isinstance(container, dict) else {}
    if not isinstance(docker, dict) or not docker.get("image"):
        bad("/container/docker/image", "an app runs a Docker image: give container.docker.image")
    else:
        app["image"] = docker["image"]
        for key in ("privileged",):
            if docker.get(key):
                bad(f"/container/docker/{key}", "not allowed in a lab")
        if docker.get("parameters"):
            bad("/container/docker/parameters", "docker run parameters are not served here")
    if isinstance(container, dict) and container.get("volumes"):
        bad("/container/volumes", "volumes are not served here")
    if body.get("cmd") is not None and body.get("args") is not None:
        bad("/cmd", "give cmd or args, not both")
    elif body.get("cmd") is not None:
        app["command"] = str(body["cmd"])
    elif body.get("args") is not None:
        app["command"] = [str(a) for a in body["args"]]
    if body.get("env"):
        app["env"] = _env(body["env"], bad)
    mode = _mode(body, container, docker, bad)
    app["mode"] = mode
    ports = _ports(body, container, docker, mode, bad)
    if ports:
        app["ports"] = ports
    if body.get("constraints"):
        app["constraints"] = [_constraint(c) for c in body["constraints"]]
    if body.get("labels"):
        app["labels"] = {str(k): str(v) for k, v in body["labels"].items()}
    if body.get("healthChecks"):
        app["health"] = [_health(index, check, bad) for index, check in enumerate(body["healthChecks"])]
    if problems:
        raise Invalid(problems)
    return name, app, sorted(k for k in body if k in IGNORED)


def _env(env: Any, bad: Any) -> dict[str, str]:
    out = {}
    for key, value in (env or {}).items():
        if isinstance(value, (dict, list)):
            bad(f"/env/{key}", "secrets are not served here: give the value itself")
        else:
            out[str(key)] = str(value)
    return out


def _mode(body: dict[str, Any], container: dict[str, Any], docker: dict[str, Any], bad: Any) -> str:
    """host, bridge or overlay:NETWORK, from any of the forms Marathon's versions used."""
    networks = body.get("networks") or []
    named = (body.get("ipAddress") or {}).get("networkName")
    for network in networks:
        mode = (network or {}).get("mode")
        if mode == "container" and network.get("name"):
            named = network["name"]
        elif mode == "container/bridge":
            return "bridge"
        elif mode not in ("host", None):
            bad("/networks", f"network mode '{mode}' is not served: use host, container/bridge or container")
    if named:
        return f"overlay:{named}"
    network = str(docker.get("network") or "HOST").upper()
    if network == "USER":
        bad(
            "/container/docker/network", "USER networking needs ipAddress.networkName (an overlay of the lab)"
        )
    if network not in NETWORK_MODES and network != "USER":
        bad("/container/docker/network", f"'{network}' is not served: use HOST, BRIDGE or USER")
    return NETWORK_MODES.get(network, "host")


def _ports(
    body: dict[str, Any], container: dict[str, Any], docker: dict[str, Any], mode: str, bad: Any
) -> list[Any]:
    """Port 0 (or any port without requirePorts, as Marathon does) is brokered from the agent's range."""
    fixed = bool(body.get("requirePorts"))
    mappings = docker.get("portMappings") or container.get("portMappings") or []
    if mode == "bridge":
        out = []
        for index, mapping in enumerate(mappings):
            if not isinstance(mapping.get("containerPort"), int):
                bad(f"/container/docker/portMappings({index})/containerPort", "a number is needed")
                continue
            host = mapping.get("hostPort", 0)
            out.append(_port(host if host else "auto", mapping, container=mapping["containerPort"]))
        return out
    if mode.startswith("overlay"):
        for index, mapping in enumerate(mappings):
            if mapping.get("hostPort"):
                why = "on a virtual network an instance is reached at its own address: no host port"
                bad(f"/container/docker/portMappings({index})/hostPort", why)
        return []
    if mappings:
        bad("/container/docker/portMappings", "portMappings are for BRIDGE networking: use portDefinitions")
    definitions = body.get("portDefinitions")
    if definitions is None:
        definitions = [{"port": p} for p in body.get("ports") or []]
    out = []
    for index, definition in enumerate(definitions):
        port = definition.get("port", 0)
        if not isinstance(port, int) or port < 0 or port > 65535:
            bad(f"/portDefinitions({index})/port", "a port is 0 (brokered) or 1-65535")
            continue
        out.append(_port(port if port and fixed else "auto", definition))
    return out


def _port(host: Any, given: dict[str, Any], container: int | None = None) -> Any:
    protocol = str(given.get("protocol") or "tcp").lower()
    item: dict[str, Any] = {"host": host}
    if container is not None:
        item["container"] = container
    if protocol != "tcp":
        item["protocol"] = protocol
    if given.get("name"):
        item["name"] = str(given["name"])
    return item


def _health(index: int, check: Any, bad: Any) -> dict[str, Any]:
    """A Marathon health check (HTTP, TCP, COMMAND, or their MESOS_ forms) as the document's."""
    check = check if isinstance(check, dict) else {}
    protocol = str(check.get("protocol") or "HTTP").upper().removeprefix("MESOS_")
    if protocol not in ("HTTP", "TCP", "COMMAND"):
        bad(f"/healthChecks({index})/protocol", f"'{protocol}' is not served: use HTTP, TCP or COMMAND")
    out: dict[str, Any] = {"protocol": protocol.lower()}
    for key, value in check.items():
        if key in HEALTH_FIELDS:
            out[HEALTH_FIELDS[key]] = value
        elif key not in HEALTH_IGNORED:
            bad(f"/healthChecks({index})/{key}", "unknown field")
    if protocol == "COMMAND":
        out["command"] = str((check.get("command") or {}).get("value") or "")
    return out


def _constraint(value: Any) -> list[str]:
    if isinstance(value, str):
        return value.split(":", 2)  # the old CLI's form, field:OPERATOR[:value]
    return [str(v) for v in value]


def to_marathon(name: str, app: AppDoc) -> dict[str, Any]:
    """The app as Marathon shows it."""
    base, _, network = app.mode.partition(":")
    docker: dict[str, Any] = {"image": app.image, "network": "USER" if base == "overlay" else base.upper()}
    out: dict[str, Any] = {"id": f"/{name}", "instances": app.instances}
    if isinstance(app.command, str):
        out["cmd"] = app.command
    elif app.command is not None:
        out["args"] = list(app.command)
    out["env"] = dict(app.env)
    out["labels"] = dict(app.labels)
    out["constraints"] = [list(c) for c in app.constraints]
    if base == "bridge":
        docker["portMappings"] = [
            {
                "containerPort": p.container,
                "hostPort": 0 if p.host == "auto" else p.host,
                "protocol": p.protocol,
            }
            | ({"name": p.name} if p.name else {})
            for p in app.ports
        ]
    elif base == "host":
        out["portDefinitions"] = [
            {"port": 0 if p.host == "auto" else p.host, "protocol": p.protocol}
            | ({"name": p.name} if p.name else {})
            for p in app.ports
        ]
        out["requirePorts"] = any(p.host != "auto" for p in app.ports)
    else:
        out["ipAddress"] = {"networkName": network}
    out["container"] = {"type": "DOCKER", "docker": docker}
    if app.health:
        out["healthChecks"] = [_marathon_health(check) for check in app.health]
    return out


def _marathon_health(check: HealthDoc) -> dict[str, Any]:
    shown = check.model_dump()
    out: dict[str, Any] = {"protocol": check.protocol.upper()}
    for key, field_name in HEALTH_FIELDS.items():
        if shown[field_name] is not None and (
            check.protocol != "command" or field_name not in ("port_index", "path")
        ):
            out[key] = shown[field_name]
    if check.protocol == "command":
        out["command"] = {"value": check.command}
    return out
