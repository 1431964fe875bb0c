"""The Docker Engine API's words in the lab document's: a container create (what `docker run`
sends) as a container node on an emulated Docker host, and a container node as the `docker run`
line that would make it. Plain data both ways; the lab host's Engine API applies it."""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import shlex
from dataclasses import dataclass
from typing import Any

from .addressing import host_mode_port
from .document import LabDoc
from .kinds import get_kind, kind_of, split_mode
from .resolve import DEFAULT_BRIDGE_SUBNET

NETWORK_MODES = {"host": "host", "bridge": "bridge", "default": "bridge", "": "bridge", "none": "none"}
LEFT, RIGHT = ("brave", "calm", "eager", "happy", "keen", "quiet", "swift", "wise"), (
    "curie", "euler", "gauss", "hopper", "lovelace", "noether", "shannon", "turing",
)  # fmt: skip
# Flags of `docker run` a Docker host of the lab does not take, by the create body's field.
REFUSED = {
    "Binds": "volumes (-v)",
    "Mounts": "mounts (--mount)",
    "Privileged": "--privileged",
    "CapAdd": "--cap-add",
    "Devices": "--device",
    "PidMode": "--pid",
    "IpcMode": "--ipc",
    "VolumesFrom": "--volumes-from",
    "Links": "--link",
}


@dataclass
class Refused(Exception):
    """A call dockerd would answer with `status` and `message`."""

    status: int
    message: str

    def __str__(self) -> str:
        return self.message


def node_from_create(doc: LabDoc, host: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The document node for a container create on `host` (refused as dockerd refuses)."""
    if not isinstance(body, dict) or not isinstance(body.get("Image"), str) or not body["Image"]:
        raise Refused(400, "No image was specified")
    config = body.get("HostConfig") or {}
    if body.get("Tty") or body.get("OpenStdin"):
        raise Refused(
            400,
            "the Docker hosts of this lab run containers detached: run it with -d, then "
            "docker exec -it NAME sh for a shell in it",
        )
    for key, flag in REFUSED.items():
        if config.get(key):
            raise Refused(400, f"the Docker hosts of this lab do not take {flag}")
    mode = _mode(doc, config.get("NetworkMode") or "")
    node: dict[str, Any] = {"kind": "container", "host": host, "image": body["Image"], "mode": mode}
    command = [*(body.get("Entrypoint") or []), *(body.get("Cmd") or [])]
    if command:
        node["command"] = [str(part) for part in command]
    env = dict(item.split("=", 1) for item in body.get("Env") or [] if "=" in item)
    if env:
        node["env"] = env
    ports = _ports(mode, body, config)
    if ports:
        node["ports"] = ports
    node["position"] = _near(doc, host)
    return node


def _mode(doc: LabDoc, asked: str) -> str:
    if asked in NETWORK_MODES:
        return NETWORK_MODES[asked]
    if asked.startswith("container:"):
        raise Refused(400, "the Docker hosts of this lab do not take --network container:NAME")
    network = doc.networks.get(asked)
    if network is None:
        raise Refused(404, f"network {asked} not found")
    if network.kind == "overlay":
        return f"overlay:{asked}"
    raise Refused(400, f"network {asked} is a {network.kind} of the lab, not a Docker network of {asked}")


def _ports(mode: str, body: dict[str, Any], config: dict[str, Any]) -> list[str]:
    base, _ = split_mode(mode)
    bindings = config.get("PortBindings") or {}
    exposed = list(body.get("ExposedPorts") or {})
    if base == "host":  # a port is the host's (-p is dropped); -P asks for one from its range
        return [_short(key) for key in exposed] or (["auto"] if config.get("PublishAllPorts") else [])
    if base != "bridge":
        return []
    out = []
    for key, binds in bindings.items():
        for bind in binds or [{}]:
            number, proto = _split(key)
            host_port = str((bind or {}).get("HostPort") or "auto")
            out.append(f"{host_port}:{number}" + ("" if proto == "tcp" else f"/{proto}"))
    if config.get("PublishAllPorts"):
        out += [f"auto:{_short(key)}" for key in exposed if key not in bindings]
    return out


def _split(key: str) -> tuple[str, str]:
    number, _, proto = key.partition("/")
    return number, proto or "tcp"


def _short(key: str) -> str:
    number, proto = _split(key)
    return number if proto == "tcp" else f"{number}/{proto}"


def _near(doc: LabDoc, host: str) -> dict[str, float]:
    at = doc.nodes[host].position
    x, y = (at.x, at.y) if at is not None else (100.0, 100.0)
    placed = sum(1 for n in doc.nodes.values() if n.host == host)
    return {"x": x - 60 + 60 * (placed % 3), "y": y + 70 + 60 * (placed // 3)}


OVERLAY_POOL = ipaddress.ip_network("198.19.0.0/16")  # a network made without --subnet: a /24 of it


def network_from_create(doc: LabDoc, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The document network for `docker network create` (an overlay: the lab is the swarm)."""
    name = body.get("Name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name:
        raise Refused(400, "network name is required")
    if name in doc.networks or name in NETWORK_MODES:
        raise Refused(409, f"network with name {name} already exists")
    driver = body.get("Driver") or "bridge"
    if driver != "overlay":
        raise Refused(
            400,
            f"the Docker hosts of this lab have one bridge network each (docker0); create an overlay "
            f"(-d overlay) to join containers across hosts, not a {driver} network",
        )
    configs = ((body.get("IPAM") or {}).get("Config")) or []
    subnet = configs[0].get("Subnet") if configs and isinstance(configs[0], dict) else None
    return name, {"kind": "overlay", "subnet": subnet or _free_subnet(doc)}


def _free_subnet(doc: LabDoc) -> str:
    texts = [DEFAULT_BRIDGE_SUBNET, *(n.subnet for n in doc.networks.values())]
    texts += [link.subnet for link in doc.links]
    texts += [iface.address for node in doc.nodes.values() for iface in node.interfaces.values()]
    used = []
    for text in texts:
        with contextlib.suppress(ValueError, TypeError):
            used.append(ipaddress.ip_interface(text or "").network)
    for candidate in OVERLAY_POOL.subnets(new_prefix=24):
        if not any(candidate.overlaps(taken) for taken in used):
            return str(candidate)
    raise Refused(400, "could not find an available, non-overlapping IPv4 address pool among the defaults")


def fresh_name(taken: set[str]) -> str:
    """A name as dockerd gives a container created without --name."""
    while True:
        name = f"{secrets.choice(LEFT)}_{secrets.choice(RIGHT)}"
        if name not in taken:
            return name
        name = f"{name}{secrets.randbelow(10)}"
        if name not in taken:
            return name


def run_line(name: str, node: Any) -> str:
    """The `docker run` line that makes container node `node`, typed on its host."""
    base, network = split_mode(node.mode)
    words = ["docker", "run", "-d", "--name", name]
    if base in ("host", "none"):
        words.append(f"--network={base}")
    elif base == "overlay" and network:
        words.append(f"--network={network}")
    if base in ("bridge", "cni"):
        for port in node.ports:
            words += ["-p", str(port.short()).replace("auto:", "")]
    elif base == "host":  # a port the host hands out (PORT0) is asked for with -P
        fixed = [str(host_mode_port(port)) for port in node.ports if host_mode_port(port) != "auto"]
        words += [word for port in fixed for word in ("--expose", port)]
        words += ["-P"] if len(fixed) < len(node.ports) else []
    for key, value in node.env.items():
        words += ["-e", f"{key}={value}"]
    words.append(node.image or "")
    if isinstance(node.command, str):
        words += ["sh", "-c", node.command]
    elif node.command:
        words += list(node.command)
    return shlex.join(words)


def docker_script(doc: LabDoc) -> str:
    """The lab's containers as the `docker` commands that make them, host by host: each host's
    lines are typed in that host's console (its hosts, routers and cables come from the lab)."""
    lines = [
        "#!/bin/sh",
        f"# The containers of lab {doc.name}, as the docker commands that make them. Type each",
        "# host's lines in that host's console; the lab's hosts, routers and cables are its document's.",
    ]
    made: set[str] = set()
    for host in doc.nodes:
        on_host = [(name, c) for name, c in doc.nodes.items() if c.host == host and kind_of(c).placed_on_host]
        if not on_host or not is_docker_host(doc, host):
            continue
        lines += ["", f"# on {host}"]
        for name, container in on_host:
            base, network = split_mode(container.mode)
            if base == "overlay" and network and network not in made:
                made.add(network)
                subnet = doc.networks[network].subnet if network in doc.networks else None
                lines.append(shlex.join(["docker", "network", "create", "-d", "overlay",
                                         *(["--subnet", subnet] if subnet else []), network]))  # fmt: skip
            lines.append(run_line(name, container))
    return "\n".join(lines) + "\n"


def is_docker_host(doc: LabDoc, node: str) -> bool:
    found = doc.nodes.get(node)
    kind = get_kind(found.kind) if found is not None else None
    return bool(kind and kind.holds_containers)
