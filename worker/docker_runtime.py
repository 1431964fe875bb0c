"""The Docker implementation of the runtime seam (`worker/runtime.py`). SDK errors become the
engine's own errors here; nothing above holds SDK handles."""

from __future__ import annotations

import contextlib
import io
import os
import select
import signal
import socket
import struct
import tarfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Ulimit

from topology.images import repository

from . import labels
from .config import EngineConfig
from .errors import EngineError, EngineUnreachable
from .runtime import ContainerInfo, PoolMember, Role, Written


def clean_text(raw: bytes) -> str:
    """Text from a container, fit to store and show: UTF-8 (replacing what is not), no NUL.

    Everything a container says reaches the rest of Wirelab through here.
    """
    return raw.decode(errors="replace").replace("\x00", "\N{REPLACEMENT CHARACTER}")


def read_bounded(sock: socket.socket, timeout: float, limit: int) -> tuple[bytes, str]:
    """Read a non-TTY exec's multiplexed output (8-byte frame headers) until it ends, `limit`
    bytes have come, or `timeout` seconds have passed; returns the payload and why it stopped.

    Written here because the SDK's frame reader waits with no timeout at all.
    """
    deadline = time.monotonic() + timeout
    raw, output = bytearray(), bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(output), f"stopped after {timeout:g} s"
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            return bytes(output), ""
        raw += chunk
        while len(raw) >= 8:
            size = struct.unpack(">I", raw[4:8])[0]
            if len(raw) < 8 + size:
                break
            output += raw[8 : 8 + size][: limit - len(output)]
            del raw[: 8 + size]
        if len(output) >= limit:
            return bytes(output), f"stopped: its output passed {limit} bytes"


class DockerTty:
    """A docker exec session with a TTY; its socket has no timeout of its own."""

    def __init__(self, client: docker.DockerClient, exec_id: str, sock: socket.socket):
        self.client, self.exec_id, self.sock = client, exec_id, sock

    def resize(self, cols: int, rows: int) -> None:
        try:
            self.client.api.exec_resize(self.exec_id, height=rows, width=cols)
        except (APIError, NotFound) as exc:
            raise EngineError(f"could not resize the console: {exc}") from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        _kill_exec(self.client, self.exec_id)


def _kill_exec(client: docker.DockerClient, exec_id: str) -> None:
    """End an exec's process: Docker has no call for it, but its pid is on this host."""
    try:
        info = client.api.exec_inspect(exec_id)
    except (APIError, NotFound):
        return
    if info.get("Running") and info.get("Pid"):
        with contextlib.suppress(OSError):
            os.kill(info["Pid"], signal.SIGKILL)


def _container_info(
    container_id: str,
    name: str,
    lab_labels: dict[str, Any] | None,
    state: dict[str, Any],
    claims: Path | None = None,
) -> ContainerInfo:
    """What the engine knows of a container. A warm sandbox claimed from the pool carries the
    pool's labels (Docker never changes labels), so its lab and node come from the name it was
    renamed to, and what it was made from from the claim record the engine keeps beside it."""
    lab_labels = lab_labels or {}
    claimed = labels.POOL in lab_labels and labels.parse_container_name(name)
    if claimed:
        lab, node = claimed
        lab_labels = {
            **lab_labels,
            labels.LAB: lab,
            labels.NODE: node,
            labels.ROLE: Role.SANDBOX,
            labels.SPEC: read_claim(claims, container_id) if claims else "",
        }
    return ContainerInfo(
        id=container_id,
        name=name.lstrip("/"),
        node=lab_labels.get(labels.NODE, ""),
        role=lab_labels.get(labels.ROLE, ""),
        spec_hash=lab_labels.get(labels.SPEC, ""),
        sandbox_id=lab_labels.get(labels.SANDBOX_ID, ""),
        status=state["Status"],
        pid=state.get("Pid") or 0,
        exit_code=state.get("ExitCode") or 0,
        error=(state.get("Error") or "").replace("\x00", ""),
        lab=lab_labels.get(labels.LAB, ""),
        oom_killed=bool(state.get("OOMKilled")),
        installation=lab_labels.get(labels.INSTALLATION, ""),
        pooled=bool(claimed),
    )


def read_claim(claims: Path, container_id: str) -> str:
    """The spec hash a claimed sandbox was personalised for ('' if unknown: it is then replaced)."""
    try:
        return (claims / container_id).read_text().strip()
    except OSError:
        return ""


# Where containerd keeps each running container's task, with its init process id: under
# dockerd's own containerd, or under a system containerd.
TASK_DIRS = (
    "/run/docker/containerd/daemon/io.containerd.runtime.v2.task/moby",
    "/run/containerd/io.containerd.runtime.v2.task/moby",
)


def running_pid(container_id: str) -> int:
    """The init process of a running container, from containerd's task directory and checked
    to be in the container's cgroup; 0 when it cannot be known this way (then ask Docker).

    Docker's container listing has no process ids; asking for them one container at a time
    was most of an unchanged re-converge of a large lab.
    """
    for base in TASK_DIRS:
        try:
            with open(f"{base}/{container_id}/init.pid") as handle:
                pid = int(handle.read().strip())
            with open(f"/proc/{pid}/cgroup") as handle:
                if container_id in handle.read():
                    return pid
        except (OSError, ValueError):
            continue
    return 0


def file_archive(files: dict[str, str]) -> bytes:
    """A tar of text files at absolute paths, for the root of a container. It holds no folder
    entries: Docker makes missing folders (0755) and leaves existing ones as they are (a file
    in /tmp must not take /tmp's sticky bit away)."""
    buffer = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, content in sorted(files.items()):
            data = content.encode()
            entry = tarfile.TarInfo(path.lstrip("/"))
            entry.size, entry.mode, entry.mtime = len(data), 0o644, now
            tar.addfile(entry, io.BytesIO(data))
    return buffer.getvalue()


class DockerRuntime:
    """Creates, finds and removes the lab's containers by their ownership labels."""

    def __init__(self, config: EngineConfig, client: docker.DockerClient | None = None):
        self.config = config
        self._root: str | None = None
        try:
            self.client = client or docker.from_env(timeout=int(config.docker_timeout))
        except DockerException as exc:
            raise EngineUnreachable(f"the Docker engine cannot be reached: {exc}") from None

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

    def list_containers(self, lab: str | None = None, running: bool = False) -> list[ContainerInfo]:
        """Containers carrying a lab's label (any lab's when `lab` is None), and warm sandboxes
        claimed into it (known by their names); an engine serving one of several lab hosts lists
        only those carrying its own mark."""
        marked = [f"{labels.INSTALLATION}={self.config.mark}"] if self.config.labhost else []
        claimed = labels.container_name(lab, "") if lab else "wl-"
        queries: list[dict[str, Any]] = [
            {"label": [f"{labels.LAB}={lab}" if lab else labels.LAB, *marked]},
            {"label": [labels.POOL, *marked], "name": [f"^/{claimed}"]},
        ]
        raw = []
        for filters in queries:
            if running:
                filters["status"] = "running"
            try:
                raw += self.client.api.containers(all=not running, filters=filters)
            except APIError as exc:
                raise EngineError(f"the Docker engine failed to list containers: {exc}") from None

        def from_listing(item: dict[str, Any]) -> ContainerInfo | None:
            pid = running_pid(item["Id"]) if item.get("State") == "running" else 0
            if not pid:
                return None
            state = {"Status": "running", "Pid": pid}
            return self._described(item["Id"], (item.get("Names") or ["/"])[0], item.get("Labels"), state)

        def inspected(item: dict[str, Any]) -> ContainerInfo | None:
            try:
                return self._info(item["Id"])
            except NotFound:
                return None  # removed since the listing

        listed = [(item, from_listing(item)) for item in raw]
        found: list[ContainerInfo | None] = [info for _, info in listed if info is not None]
        rest = [item for item, info in listed if info is None]
        if len(rest) < 4:
            found += [inspected(item) for item in rest]
        else:
            with ThreadPoolExecutor(self.config.workers) as pool:  # one inspect each, side by side
                found += list(pool.map(inspected, rest))
        return [info for info in found if info is not None and info.lab and (lab is None or info.lab == lab)]

    def inspect(self, container_id: str) -> ContainerInfo:
        try:
            return self._info(container_id)
        except NotFound:
            raise EngineError(f"container {container_id[:12]} is gone") from None

    def _info(self, container_id: str) -> ContainerInfo:
        data = self.client.api.inspect_container(container_id)
        return self._described(data["Id"], data["Name"], data["Config"]["Labels"], data["State"])

    def _described(
        self, container_id: str, name: str, lab_labels: dict[str, Any] | None, state: dict[str, Any]
    ) -> ContainerInfo:
        return _container_info(container_id, name, lab_labels, state, self.config.claims_dir)

    def run(self, name: str, image: str, lab_labels: dict[str, str], **options: Any) -> ContainerInfo:
        """Create and start one container with the safety baseline applied; `files` (path ->
        text) are put in between, so they are there when its first process starts."""
        files = options.pop("files", None) or {}
        options.setdefault("cap_drop", ["ALL"])
        try:
            container = self.client.containers.create(
                image,
                name=name,
                labels={**lab_labels, labels.INSTALLATION: self.config.mark},
                detach=True,
                init=True,
                security_opt=["no-new-privileges"],
                pids_limit=self.config.pids_limit,
                ulimits=[Ulimit(name="nofile", soft=self.config.nofile_limit, hard=self.config.nofile_limit)],
                mem_limit=self.config.memory_limit,
                memswap_limit=self.config.memory_limit,  # no swap beyond the memory limit
                nano_cpus=int(self.config.cpu_limit * 1e9),
                log_config=LogConfig(
                    type="json-file", config={"max-size": self.config.log_max_size, "max-file": "2"}
                ),
                **options,
            )
        except ImageNotFound:
            raise EngineError(f"image {image} is not on this lab host") from None
        except APIError as exc:
            raise EngineError(f"could not create {name}: {exc.explanation or exc}") from None
        try:
            if files:
                container.put_archive("/", file_archive(files))
            container.start()
        except APIError as exc:
            raise EngineError(f"could not start {name}: {exc.explanation or exc}") from None
        return self._info(str(container.id))

    def written(self, installation: str) -> list[Written]:
        """What each of the installation's running containers wrote to its writable layer."""
        filters = {"label": f"{labels.INSTALLATION}={installation}", "status": "running"}
        try:
            raw = self.client.api.containers(size=True, filters=filters)
        except APIError as exc:
            raise EngineError(f"the Docker engine failed to size containers: {exc}") from None
        return [
            Written(
                item["Id"],
                (item.get("Labels") or {}).get(labels.LAB, ""),
                (item.get("Labels") or {}).get(labels.NODE, ""),
                int(item.get("SizeRw") or 0),
            )
            for item in raw
        ]

    def stop(self, container_id: str) -> None:
        self._lifecycle("stop", container_id)

    def start(self, container_id: str) -> None:
        self._lifecycle("start", container_id)

    def restart(self, container_id: str) -> None:
        self._lifecycle("restart", container_id)

    def kill(self, container_id: str) -> None:
        self._lifecycle("kill", container_id)

    def _lifecycle(self, action: str, container_id: str) -> None:
        try:
            if action in ("start", "kill"):  # kill: SIGKILL, as `docker kill` sends
                getattr(self.client.api, action)(container_id)
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
        (self.config.claims_dir / container_id).unlink(missing_ok=True)

    # Warm sandboxes (worker/pool.py) ---------------------------------------------------

    def pool_members(self, pool: str | None = None) -> list[PoolMember]:
        """This engine's unclaimed warm sandboxes (of one pool, or of every pool)."""
        mine = f"{labels.INSTALLATION}={self.config.mark}"
        filters = {
            "label": [f"{labels.POOL}={pool}" if pool else labels.POOL, mine],
            "name": [f"^/{labels.POOL_PREFIX}"],
        }
        try:
            raw = self.client.api.containers(all=True, filters=filters)
        except APIError as exc:
            raise EngineError(f"the Docker engine failed to list warm sandboxes: {exc}") from None
        return [
            PoolMember(
                item["Id"],
                (item.get("Names") or ["/"])[0].lstrip("/"),
                (item.get("Labels") or {}).get(labels.POOL, ""),
                item.get("ImageID", ""),
                item.get("State") == "running",
            )
            for item in raw
        ]

    def pull(self, reference: str) -> Iterator[dict[str, Any]]:
        """Pull an image from its registry: the engine's progress events as they come."""
        try:
            yield from self.client.api.pull(reference, stream=True, decode=True)
        except APIError as exc:
            yield {"error": exc.explanation or str(exc)}
        except OSError as exc:  # requests' errors: the engine went silent or away mid-pull
            yield {"error": f"the Docker engine stopped answering: {exc}"}

    def repo_digest(self, reference: str) -> str:
        """`repository@sha256:...` of the image a reference points to, when it came from a
        registry ('' for an image made here)."""
        try:
            digests = self.client.images.get(reference).attrs.get("RepoDigests") or []
        except ImageNotFound:
            return ""
        except APIError as exc:
            raise EngineError(f"the Docker engine failed to look up image {reference}: {exc}") from None
        own = repository(reference)
        return next((d for d in digests if d.split("@", 1)[0] == own), digests[0] if digests else "")

    def image_id(self, image: str) -> str:
        """The id of the image a name points to now ('' when it is not on this lab host)."""
        try:
            return str(self.client.images.get(image).id)
        except ImageNotFound:
            return ""
        except APIError as exc:
            raise EngineError(f"the Docker engine failed to look up image {image}: {exc}") from None

    def rename(self, container_id: str, name: str) -> None:
        try:
            self.client.api.rename(container_id, name)
        except (APIError, NotFound) as exc:
            raise EngineError(f"could not rename container {container_id[:12]} to {name}: {exc}") from None

    def write_hostname(self, container_id: str, hostname: str) -> None:
        """Write a container's /etc/hostname: Docker's own file on this host, which it bind-mounts
        (and writes again at each start), so neither an archive nor the container can replace it."""
        try:
            path = f"{self._docker_root()}/containers/{container_id}/hostname"
            if not os.path.exists(path):  # a daemon that keeps it elsewhere
                path = self.client.api.inspect_container(container_id)["HostnamePath"]
            handle = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW)
            try:
                os.write(handle, f"{hostname}\n".encode())
            finally:
                os.close(handle)
        except (APIError, NotFound, KeyError, OSError) as exc:
            raise EngineError(f"could not write the hostname of {container_id[:12]}: {exc}") from None

    def _docker_root(self) -> str:
        if self._root is None:  # asked once per runtime, which lives for one job
            self._root = self.client.info().get("DockerRootDir", "/var/lib/docker")
        return self._root

    def put_files(self, container_id: str, files: dict[str, str]) -> None:
        try:
            self.client.api.put_archive(container_id, "/", file_archive(files))
        except (APIError, NotFound) as exc:
            raise EngineError(f"could not put files into container {container_id[:12]}: {exc}") from None

    def exec(
        self,
        container_id: str,
        command: list[str],
        environment: dict[str, str] | None = None,
        timeout: float = 60,
        limit: int = 65536,
    ) -> tuple[int, str]:
        """Run a command; its output is cut at `limit` bytes and it is killed after `timeout` s."""
        try:
            exec_id = self.client.api.exec_create(container_id, command, environment=environment)["Id"]
            raw = self.client.api.exec_start(exec_id, socket=True)
        except (APIError, NotFound) as exc:
            return 126, f"could not run {command[0]}: {exc}"
        sock = _socket_of(raw)
        try:
            output, stopped = read_bounded(sock, timeout, limit)
        finally:
            sock.close()
        text = clean_text(output)
        if stopped:
            _kill_exec(self.client, exec_id)
            return 124, text + f"\n[{stopped}]"
        return self._exit_code(exec_id), text

    def _exit_code(self, exec_id: str) -> int:
        """The exit code of an exec whose output ended (Docker may take a moment to record it)."""
        for _ in range(50):
            try:
                info = self.client.api.exec_inspect(exec_id)
            except (APIError, NotFound):
                return 126
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.02)
        return 126

    def logs_tail(self, container_id: str, lines: int = 5) -> str:
        try:
            return clean_text(self.client.api.logs(container_id, tail=lines)).strip()
        except (APIError, NotFound):
            return ""

    def open_tty(self, container_id: str, command: list[str], environment: dict[str, Any]) -> DockerTty:
        try:
            exec_id = self.client.api.exec_create(
                container_id, command, stdin=True, tty=True, environment=environment
            )["Id"]
            raw = self.client.api.exec_start(exec_id, tty=True, socket=True)
        except (APIError, NotFound) as exc:
            raise EngineError(f"could not open a console: {exc}") from None
        sock = _socket_of(raw)
        sock.settimeout(None)  # a quiet console stays open; idleness is the caller's to judge
        return DockerTty(self.client, exec_id, sock)

    def version(self) -> str:
        """The container engine's version, for the lab host's heartbeat."""
        try:
            return f"Docker engine {self.client.version().get('Version')}"
        except (APIError, DockerException, OSError) as exc:
            raise EngineError(f"the Docker engine does not answer: {exc}") from None

    def engine_socket(self) -> socket.socket:
        """A new connection to the engine's own socket, for calls the lab's Engine API relays as
        they are (`worker/engineapi.py`)."""
        host = os.environ.get("DOCKER_HOST", "") or "unix:///var/run/docker.sock"
        if not host.startswith("unix://"):
            raise EngineError(f"the lab's Docker API needs the engine on a unix socket, not {host}")
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(host.removeprefix("unix://"))
        except OSError as exc:
            conn.close()
            raise EngineError(f"the Docker engine cannot be reached: {exc}") from None
        return conn

    def netns_id(self, info: ContainerInfo) -> int | None:
        """The network namespace a running container's process is in (its inode), else None."""
        try:
            return os.stat(f"/proc/{info.pid}/ns/net").st_ino
        except OSError:
            return None

    def events(self) -> Iterator[tuple[str, str]]:
        """(container id, action) for every change to a container Wirelab made (a lab's, or a warm
        sandbox, whose claim is a rename), as it happens."""
        try:
            mine = {"label": labels.INSTALLATION, "type": "container"}
            stream = self.client.events(decode=True, filters=mine)
            for event in stream:
                yield event.get("id", ""), event.get("Action", "")
        except (APIError, DockerException, OSError) as exc:
            raise EngineError(f"the Docker engine's event stream ended: {exc}") from None


def _socket_of(raw: Any) -> socket.socket:
    """The socket under what `exec_start(socket=True)` returns (a SocketIO wraps it)."""
    sock: socket.socket = getattr(raw, "_sock", raw)
    return sock
