"""The container runtime seam: the few calls the engine needs, as a Protocol, with the records
they return and the helpers that work on any runtime. `worker/docker_runtime.py` is the Docker
implementation, `worker/fake_runtime.py` the in-memory stand-in for tests."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from .report import NodeState


class Role(StrEnum):
    """What a lab's container is for."""

    SANDBOX = "sandbox"  # an emulated machine: its namespace is the host or router
    NETNS = "netns"  # holds an app's own namespace, wired before the app starts
    APP = "app"  # an application container on an emulated host


NODE_ROLES = (Role.SANDBOX, Role.APP)  # the containers that are a node of the lab
NAMESPACE_ROLES = (Role.SANDBOX, Role.NETNS)  # the containers whose namespace the engine wires


@dataclass
class ContainerInfo:
    """What the engine needs to know about one of its containers."""

    id: str
    name: str
    node: str
    role: str
    spec_hash: str
    sandbox_id: str
    status: str
    pid: int
    exit_code: int
    error: str
    lab: str = ""
    oom_killed: bool = False
    installation: str = ""
    pooled: bool = False  # a warm sandbox claimed from the pool: named into the lab, not labelled


@dataclass(frozen=True)
class Written:
    """What a running node wrote to its own filesystem (its container's writable layer)."""

    container_id: str
    lab: str
    node: str
    size: int


@dataclass
class PoolMember:
    """A warm sandbox as the container engine lists it."""

    id: str
    name: str
    pool: str
    image_id: str
    running: bool


class Tty(Protocol):
    """An interactive session in a container: a socket to read and write, and a resize."""

    sock: socket.socket

    def resize(self, cols: int, rows: int) -> None: ...
    def close(self) -> None: ...


class Runtime(Protocol):
    """The container calls the engine makes; everything else goes through these."""

    def close(self) -> None: ...
    def missing_images(self, images: set[str]) -> list[str]: ...
    def list_containers(self, lab: str | None = None, running: bool = False) -> list[ContainerInfo]: ...
    def inspect(self, container_id: str) -> ContainerInfo: ...
    def run(self, name: str, image: str, lab_labels: dict[str, str], **options: Any) -> ContainerInfo: ...
    def stop(self, container_id: str) -> None: ...
    def start(self, container_id: str) -> None: ...
    def restart(self, container_id: str) -> None: ...
    def kill(self, container_id: str) -> None: ...
    def remove(self, container_id: str) -> None: ...
    def exec(
        self,
        container_id: str,
        command: list[str],
        environment: dict[str, str] | None = None,
        timeout: float = 60,
        limit: int = 65536,
    ) -> tuple[int, str]: ...
    def logs_tail(self, container_id: str, lines: int = 5) -> str: ...
    def open_tty(self, container_id: str, command: list[str], environment: dict[str, Any]) -> Tty: ...
    def events(self) -> Iterator[tuple[str, str]]: ...
    def netns_id(self, info: ContainerInfo) -> int | None: ...
    def version(self) -> str: ...
    def engine_socket(self) -> socket.socket: ...
    def written(self, installation: str) -> list[Written]: ...
    # warm sandboxes (worker/pool.py)
    def pool_members(self, pool: str | None = None) -> list[PoolMember]: ...
    def image_id(self, image: str) -> str: ...
    # images a lab names (worker/images.py)
    def pull(self, reference: str) -> Iterator[dict[str, Any]]: ...
    def repo_digest(self, reference: str) -> str: ...
    def rename(self, container_id: str, name: str) -> None: ...
    def put_files(self, container_id: str, files: dict[str, str]) -> None: ...
    def write_hostname(self, container_id: str, hostname: str) -> None: ...


def node_container(runtime: Runtime, lab: str, node: str) -> ContainerInfo | None:
    """The container that is node `node` of lab `lab` (its sandbox, or the app itself)."""
    found = [c for c in runtime.list_containers(lab) if c.node == node and c.role in NODE_ROLES]
    return found[0] if found else None


def node_state(runtime: Runtime, info: ContainerInfo) -> NodeState:
    """A node's state as its container has it, and why it is not running."""
    if info.status == "running":
        return NodeState("running")
    if info.oom_killed:
        reason = "out of memory"
    else:
        tail = runtime.logs_tail(info.id, 3).splitlines()
        reason = tail[-1] if tail else info.error or f"exited with code {info.exit_code}"
    return NodeState(info.status, reason, info.exit_code)


def lab_tags(runtime: Runtime, installation: str | None = None) -> set[str]:
    """Tags of every lab with a container on this lab host (made by `installation`, if given)."""
    return {
        c.lab for c in runtime.list_containers() if installation is None or c.installation == installation
    }
