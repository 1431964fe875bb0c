"""How each of the lab's containers is made: sandboxes, namespace holders and apps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from topology.spec import AppSpec, SandboxSpec, digest

from . import labels
from .runtime import Role

HOLDER_IMAGE = "wirelab/node:busybox"
RESOLVER = "127.0.0.11"  # the lab's DNS, in every namespace (live/resolver.py), where Docker has its own
EXEC_MARKER = "/tmp/.wirelab-exec"  # noqa: S108 (inside the node, not on the lab host)


@dataclass
class Wanted:
    """A container the spec asks for: its role, node, name, image and creation options."""

    role: str
    node: str
    name: str
    image: str
    spec_hash: str
    options: dict[str, Any] = field(default_factory=dict)
    ports: set[tuple[str, int]] = field(default_factory=set)  # host-mode ports it should bind

    def labels(self, lab: str, sandbox_id: str = "") -> dict[str, str]:
        out = {
            labels.LAB: lab,
            labels.NODE: self.node,
            labels.ROLE: self.role,
            labels.SPEC: self.spec_hash,
        }
        if sandbox_id:
            out[labels.SANDBOX_ID] = sandbox_id
        return out


def holder_name(lab: str, app: str) -> str:
    """The container that holds an app's own namespace; `--` cannot clash with a node name."""
    return f"wl-{lab}--{app}"


def sandbox(lab: str, spec: SandboxSpec) -> Wanted:
    return Wanted(
        role=Role.SANDBOX,
        node=spec.name,
        name=labels.container_name(lab, spec.name),
        image=spec.image,
        spec_hash=spec.container_hash(),
        options={
            "hostname": spec.name,
            "network_mode": "none",
            "dns": [RESOLVER],
            "tty": True,
            "stdin_open": True,
            "environment": spec.env,
            "cap_add": spec.capabilities,
            "sysctls": spec.sysctls,
            "files": spec.files,
        },
    )


def holder(lab: str, app: AppSpec) -> Wanted:
    """A pod-style infra container: the app's namespace exists and is wired before it starts."""
    return Wanted(
        role=Role.NETNS,
        node=app.name,
        name=holder_name(lab, app.name),
        image=HOLDER_IMAGE,
        spec_hash=digest(["netns", HOLDER_IMAGE, RESOLVER]),
        options={
            "hostname": app.name,
            "network_mode": "none",
            "dns": [RESOLVER],
            "tty": True,
            "stdin_open": True,
        },
    )


def app(lab: str, spec: AppSpec, network_holder: str | None) -> Wanted:
    if spec.mode == "host":
        network_mode = f"container:{labels.container_name(lab, spec.host)}"
    elif network_holder:
        network_mode = f"container:{network_holder}"
    else:
        network_mode = "none"
    options = {
        "network_mode": network_mode,
        "environment": spec.env,
        "cap_add": spec.capabilities,
        "files": spec.files,
    }
    if spec.command:
        options["command"] = spec.command
    if network_mode == "none":
        options["hostname"] = spec.name
    ports = {(p.protocol, p.port) for p in spec.ports} if spec.mode == "host" else set()
    return Wanted(
        role=Role.APP,
        node=spec.name,
        name=labels.container_name(lab, spec.name),
        image=spec.image,
        spec_hash=spec.container_hash(),
        options=options,
        ports=ports,
    )
