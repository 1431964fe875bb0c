"""An in-memory runtime with the real one's behaviour where the engine relies on it:
containers are created running, listed by lab label, removed for good. For tests that
plan containers without a container engine."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from . import labels
from .errors import EngineError
from .runtime import ContainerInfo, PoolMember, Runtime, Tty, Written

if TYPE_CHECKING:
    from .docker_runtime import DockerRuntime


class FakeRuntime:
    """Keeps containers in a dict; counts the calls that change something."""

    def __init__(self, images: set[str] | None = None, installation: str = "engine"):
        self.images, self.installation = images, installation
        self.containers: dict[str, ContainerInfo] = {}
        self.namespaces: dict[str, int] = {}  # container id -> the namespace it is in
        self.created: list[str] = []
        self.removed: list[str] = []
        self.files: dict[str, dict[str, str]] = {}  # container name -> the files put in it
        self._ids = itertools.count(1)

    def close(self) -> None:
        pass

    def missing_images(self, images: set[str]) -> list[str]:
        return sorted(images - self.images) if self.images is not None else []

    def list_containers(self, lab: str | None = None, running: bool = False) -> list[ContainerInfo]:
        return [
            c
            for c in self.containers.values()
            if (lab is None or c.lab == lab) and (not running or c.status == "running")
        ]

    def inspect(self, container_id: str) -> ContainerInfo:
        if container_id not in self.containers:
            raise EngineError(f"container {container_id} is gone")
        return self.containers[container_id]

    def run(self, name: str, image: str, lab_labels: dict[str, str], **options: Any) -> ContainerInfo:
        self.files[name] = dict(options.pop("files", None) or {})
        if any(c.name == name for c in self.containers.values()):
            raise EngineError(f"could not create {name}: the name is in use")
        if self.images is not None and image not in self.images:
            raise EngineError(f"image {image} is not on this lab host")
        number = next(self._ids)
        info = ContainerInfo(
            id=f"c{number:011d}",
            name=name,
            node=lab_labels.get(labels.NODE, ""),
            role=lab_labels.get(labels.ROLE, ""),
            spec_hash=lab_labels.get(labels.SPEC, ""),
            sandbox_id=lab_labels.get(labels.SANDBOX_ID, ""),
            status="running",
            pid=100000 + number,
            exit_code=0,
            error="",
            lab=lab_labels.get(labels.LAB, ""),
            installation=self.installation,
        )
        self.containers[info.id] = info
        self.created.append(name)
        shared = str(options.get("network_mode", "")).partition("container:")[2]
        owner = next((c.id for c in self.containers.values() if c.name == shared), info.id)
        self.namespaces[info.id] = self.namespaces.get(owner, number)
        return info

    def written(self, installation: str) -> list[Written]:
        return [Written(c.id, c.lab, c.node, 0) for c in self.containers.values() if c.status == "running"]

    def stop(self, container_id: str) -> None:
        self.inspect(container_id).status = "exited"

    def start(self, container_id: str) -> None:
        self.inspect(container_id).status = "running"

    def restart(self, container_id: str) -> None:
        self.start(container_id)

    def kill(self, container_id: str) -> None:
        self.stop(container_id)

    def remove(self, container_id: str) -> None:
        info = self.containers.pop(container_id, None)
        if info is not None:
            self.removed.append(info.name)

    def exec(
        self,
        container_id: str,
        command: list[str],
        environment: dict[str, str] | None = None,
        timeout: float = 60,
        limit: int = 65536,
    ) -> tuple[int, str]:
        return 0, ""

    def logs_tail(self, container_id: str, lines: int = 5) -> str:
        return ""

    def open_tty(self, container_id: str, command: list[str], environment: dict[str, Any]) -> Tty:
        raise EngineError("the in-memory runtime has no consoles")

    def netns_id(self, info: ContainerInfo) -> int | None:
        return self.namespaces.get(info.id) if info.status == "running" else None

    def version(self) -> str:
        return "in-memory runtime"

    def engine_socket(self) -> Any:
        raise EngineError("the in-memory runtime has no engine socket")

    def events(self) -> Iterator[tuple[str, str]]:
        return iter(())

    def pool_members(self, pool: str | None = None) -> list[PoolMember]:
        return []  # no warm sandboxes: every deploy starts cold

    def image_id(self, image: str) -> str:
        return image if self.images is None or image in self.images else ""

    def pull(self, reference: str) -> Iterator[dict[str, Any]]:
        yield {"error": "the in-memory engine has no registry"}

    def repo_digest(self, reference: str) -> str:
        return ""  # every image is made here

    def rename(self, container_id: str, name: str) -> None:
        self.inspect(container_id).name = name

    def put_files(self, container_id: str, files: dict[str, str]) -> None:
        self.files.setdefault(self.inspect(container_id).name, {}).update(files)

    def write_hostname(self, container_id: str, hostname: str) -> None:
        self.inspect(container_id)


def _same_shape(fake: FakeRuntime, docker: DockerRuntime) -> tuple[Runtime, Runtime]:
    """Never called: the type checker holds both runtimes to the Protocol here."""
    return fake, docker
