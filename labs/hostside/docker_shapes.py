"""What the lab's Docker Engine API shows of a Docker host's containers: the engine's own
answers (ids, states, `Up 3 seconds`, logs) with the lab's view put in place of Wirelab's
wiring: the name, image and command the document gives, the network mode the container was
asked for, and the ports its host publishes."""

from __future__ import annotations

import hashlib
from typing import Any

from topology.addressing import Assignments, host_mode_port
from topology.document import LabDoc, NodeDoc
from topology.kinds import split_mode
from worker import labels

ANY = "0.0.0.0"  # noqa: S104 (what Docker shows for a port published on every address)
HIDDEN_LABELS = (labels.LAB, labels.NODE, labels.ROLE, labels.SPEC, labels.SANDBOX_ID, labels.INSTALLATION)


def network_name(node: NodeDoc) -> str:
    base, network = split_mode(node.mode)
    return network if network else base


def port_list(name: str, node: NodeDoc, assignments: Assignments) -> list[dict[str, Any]]:
    """`docker ps`'s ports: `0.0.0.0:10000->80/tcp` for what the host publishes."""
    base, _ = split_mode(node.mode)
    out = []
    for index, port in enumerate(node.ports):
        if base in ("bridge", "cni") and port.container is not None:
            public = port.host if port.host != "auto" else assignments.ports.get(f"{name}:{index}")
            entry: dict[str, Any] = {"PrivatePort": port.container, "Type": port.protocol}
            if public:
                entry.update({"IP": ANY, "PublicPort": int(public)})
            out.append(entry)
    return out


def port_map(name: str, node: NodeDoc, assignments: Assignments) -> dict[str, Any]:
    """`docker inspect`'s NetworkSettings.Ports (and HostConfig.PortBindings)."""
    out: dict[str, Any] = {}
    for entry in port_list(name, node, assignments):
        key = f"{entry['PrivatePort']}/{entry['Type']}"
        bound = [{"HostIp": ANY, "HostPort": str(entry["PublicPort"])}] if "PublicPort" in entry else None
        out[key] = bound
    return out


def address_of(name: str, assignments: Assignments) -> tuple[str, int]:
    address = assignments.containers.get(name, "")
    if "/" not in address:
        return "", 0
    ip, prefix = address.split("/")
    return ip, int(prefix)


def listed(entry: dict[str, Any], name: str, node: NodeDoc, assignments: Assignments) -> dict[str, Any]:
    """One `GET /containers/json` entry, from the engine's."""
    network = network_name(node)
    ip, prefix = address_of(name, assignments)
    return {
        **entry,
        "Names": [f"/{name}"],
        "Image": node.image or "",
        "Command": _command_text(node),
        "Labels": _own_labels(entry.get("Labels")),
        "Ports": port_list(name, node, assignments),
        "HostConfig": {"NetworkMode": network if network != "bridge" else "default"},
        "NetworkSettings": {"Networks": {network: {"IPAddress": ip, "IPPrefixLen": prefix}}},
        "Mounts": [],
    }


def inspected(data: dict[str, Any], name: str, node: NodeDoc, assignments: Assignments) -> dict[str, Any]:
    """`GET /containers/{id}/json`, from the engine's."""
    network = network_name(node)
    ip, prefix = address_of(name, assignments)
    config = dict(data.get("Config") or {})
    config.update({"Image": node.image or "", "Labels": _own_labels(config.get("Labels")), "Hostname": name})
    env = [item for item in config.get("Env") or [] if not item.startswith("WIRELAB_")]
    config["Env"] = env
    host_config = dict(data.get("HostConfig") or {})
    host_config.update({"NetworkMode": network if network != "bridge" else "default",
                        "PortBindings": {k: v for k, v in port_map(name, node, assignments).items() if v},
                        "CapDrop": None, "CapAdd": None})  # fmt: skip
    ports = {} if split_mode(node.mode)[0] == "host" else port_map(name, node, assignments)
    if split_mode(node.mode)[0] == "host":
        for port in node.ports:
            value = host_mode_port(port)
            if value != "auto":
                ports[f"{value}/{port.protocol}"] = None
    settings = {
        "Ports": ports,
        "IPAddress": ip if network == "bridge" else "",
        "IPPrefixLen": prefix if network == "bridge" else 0,
        "Networks": {network: {"IPAddress": ip, "IPPrefixLen": prefix}},
    }
    shown = {"Name": f"/{name}", "Config": config, "HostConfig": host_config, "NetworkSettings": settings}
    return {**data, **shown, "Mounts": []}


def _command_text(node: NodeDoc) -> str:
    if isinstance(node.command, str):
        return f"sh -c {node.command!r}"
    return " ".join(node.command or [])


def _own_labels(found: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (found or {}).items() if k not in HIDDEN_LABELS and not k.startswith("wirelab.")}


def networks(doc: LabDoc, host: str) -> list[dict[str, Any]]:
    """The networks `docker network ls` shows on `host`: Docker's three, and the lab's overlays."""
    own: list[dict[str, Any]] = [
        {"Name": "bridge", "Id": network_id("bridge", host), "Driver": "bridge", "Scope": "local"},
        {"Name": "host", "Id": network_id("host", host), "Driver": "host", "Scope": "local"},
        {"Name": "none", "Id": network_id("none", host), "Driver": "null", "Scope": "local"},
    ]
    for name, network in doc.networks.items():
        if network.kind == "overlay":
            subnet = getattr(network, "subnet", None) or ""
            ipam = {"Driver": "default", "Config": [{"Subnet": str(subnet)}] if subnet else []}
            own.append(
                {
                    "Name": name,
                    "Id": network_id(name, "swarm"),
                    "Driver": "overlay",
                    "Scope": "swarm",
                    "IPAM": ipam,
                }
            )
    for entry in own:
        entry.setdefault("IPAM", {"Driver": "default", "Config": []})
        entry.update(
            {
                "Created": "0001-01-01T00:00:00Z",
                "Internal": False,
                "Attachable": entry["Driver"] == "overlay",
                "Ingress": False,
                "EnableIPv6": False,
                "Options": {},
                "Labels": {},
                "Containers": {},
            }
        )
    return own


def attached(doc: LabDoc, network: str, ids: dict[str, str], assignments: Assignments) -> dict[str, Any]:
    """`docker network inspect`'s Containers: this host's containers on `network`."""
    out = {}
    for name, container_id in sorted(ids.items()):
        if network_name(doc.nodes[name]) == network:
            ip, prefix = address_of(name, assignments)
            out[container_id] = {
                "Name": name,
                "IPv4Address": f"{ip}/{prefix}" if ip else "",
                "IPv6Address": "",
            }
    return out


def network_id(name: str, scope: str) -> str:
    return hashlib.sha256(f"{scope}/{name}".encode()).hexdigest()
