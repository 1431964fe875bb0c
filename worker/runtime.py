"""The container runtime adapter: the few Docker calls the engine needs.

Docker SDK errors become the engine's own errors here; nothing above holds SDK handles.
"""

from __future__ import annotations

from dataclasses import dataclass

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from . import labels
from .config import EngineConfig
from .errors import EngineError


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


class DockerRuntime:
    """Creates, finds and removes the lab's containers by their ownership labels."""

    def __init__(self, config: EngineConfig, client: docker.DockerClient | None = None):
        self.config = config
        self.client = client or docker.from_env(timeout=int(config.docker_timeout))

    def close(self) -> None:
        self.client.close()

    def missing_images(self, images: set[str]) -> list[str]:
        missing = []
        for image in sorted(images):
            try:
                self.client.images.get(image)
            except ImageNotFound:
                missing.append(image)
            except APIError as exc:
                raise EngineError(f"the Docker engine failed to look up image {image}: {exc}") from None
        return missing

    def list(self, lab: str | None = None) -> list[ContainerInfo]:
        """Containers carrying a lab's label (any lab's when `lab` is None)."""
        selector = f"{labels.LAB}={lab}" if lab else labels.LAB
        try:
            raw = self.client.api.containers(all=True, filters={"label": selector})
        except APIError as exc:
            raise EngineError(f"the Docker engine failed to list containers: {exc}") from None
        found = []
        for item in raw:
            try:
                found.append(self._info(item["Id"]))
            except NotFound:
                continue  # removed since the listing
        return found

    def inspect(self, container_id: str) -> ContainerInfo:
        return self._info(container_id)

    def _info(self, container_id: str) -> ContainerInfo:
        data = self.client.api.inspect_container(container_id)
        lab_labels = data["Config"]["Labels"] or {}
        state = data["State"]
        return ContainerInfo(
            id=data["Id"],
            name=data["Name"].lstrip("/"),
            node=lab_labels.get(labels.NODE, ""),
            role=lab_labels.get(labels.ROLE, ""),
            spec_hash=lab_labels.get(labels.SPEC, ""),
            sandbox_id=lab_labels.get(labels.SANDBOX_ID, ""),
            status=state["Status"],
            pid=state.get("Pid") or 0,
            exit_code=state.get("ExitCode") or 0,
            error=state.get("Error") or "",
        )

    def run(self, name: str, image: str, lab_labels: dict[str, str], **options) -> ContainerInfo:
        """Create and start one container with the safety baseline applied."""
        options.setdefault("cap_drop", ["ALL"])
        try:
            container = self.client.containers.create(
                image,
                name=name,
                labels=lab_labels,
                detach=True,
                init=True,
                security_opt=["no-new-privileges"],
                pids_limit=self.config.pids_limit,
                mem_limit=self.config.memory_limit,
                **options,
            )
        except ImageNotFound:
            raise EngineError(f"image {image} is not on this lab host") from None
        except APIError as exc:
            raise EngineError(f"could not create {name}: {exc.explanation or exc}") from None
        try:
            container.start()
        except APIError as exc:
            raise EngineError(f"could not start {name}: {exc.explanation or exc}") from None
        return self._info(container.id)

    def stop(self, container_id: str) -> None:
        self._lifecycle("stop", container_id)

    def start(self, container_id: str) -> None:
        self._lifecycle("start", container_id)

    def restart(self, container_id: str) -> None:
        self._lifecycle("restart", container_id)

    def _lifecycle(self, action: str, container_id: str) -> None:
        try:
            if action == "start":
                self.client.api.start(container_id)
            else:
                getattr(self.client.api, action)(container_id, timeout=2)
        except (APIError, NotFound) as exc:
            raise EngineError(f"could not {action} container {container_id[:12]}: {exc}") from None

    def remove(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True, v=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # removal already in progress
                raise EngineError(f"could not remove container {container_id[:12]}: {exc}") from None

    def exec(self, container_id: str, command: list[str], environment=None) -> tuple[int, str]:
        try:
            result = self.client.api.exec_create(container_id, command, environment=environment)
            output = self.client.api.exec_start(result["Id"])
            code = self.client.api.exec_inspect(result["Id"])["ExitCode"]
        except (APIError, NotFound) as exc:
            return 126, f"could not run {command[0]}: {exc}"
        return code if code is not None else 0, output.decode(errors="replace")

    def logs_tail(self, container_id: str, lines: int = 5) -> str:
        try:
            return self.client.api.logs(container_id, tail=lines).decode(errors="replace").strip()
        except (APIError, NotFound):
            return ""
