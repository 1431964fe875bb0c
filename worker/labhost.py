"""The lab host facade: the one entry to the engine for the task layer.

Deploy, destroy, cable, impairment, capture, node actions, exec and consoles: each takes
plain data (a spec, names, numbers) and returns plain data or raises EngineError with a
sentence for people. Nothing here knows of Django, rows or queues.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

from requests.exceptions import ConnectionError as RequestsConnectionError

from topology.spec import LabHostSpec

from . import capture, cni, gc, health, journey, pool, services
from .checks import run_checks
from .config import EngineConfig
from .converge import converge, lab_lock
from .docker_runtime import DockerRuntime
from .errors import EngineError, EngineUnreachable, Stopped
from .live.controls import Impairment, cable_plugged, impair, set_cable
from .live.monitor import Monitor, Publish
from .natview import nat_view
from .report import Progress, Report
from .runtime import Runtime, Tty, Written, node_container

NODE_ACTIONS = ("stop", "start", "restart", "kill")
SHELL = ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash -l; else exec sh -l; fi"]

__all__ = ["NODE_ACTIONS", "Engine", "EngineError", "EngineUnreachable", "Report", "Stopped", "Tty"]


class Engine:
    """This lab host's engine, built once by its caller with a plain config."""

    def __init__(
        self, config: EngineConfig | None = None, runtime: Callable[[EngineConfig], Runtime] | None = None
    ):
        self.config = config or EngineConfig()
        self._runtime = runtime or DockerRuntime
        journey.keep_timestamps_on()  # long before a trace needs packets stamped as they arrive

    def runtime(self) -> Runtime:
        return self._runtime(self.config)

    # What the lab host's processes watch and report ---------------------------------------

    def monitor(self, publish: Publish, tick: float = 1.0) -> Monitor:
        """The live monitor of this lab host's labs, with a runtime of its own (its calls wait
        longer than a job's: a busy engine must not make it miss events)."""
        config = replace(self.config, docker_timeout=30)
        return Monitor(publish, self._runtime(config), tick=tick, mark=config.mark, config=config)

    def cni_plugins(self) -> list[str]:
        """The CNI plugin types this lab host has (it says so when it registers)."""
        return sorted(cni.available())

    # Life cycle -------------------------------------------------------------------------

    def converge(
        self,
        spec: LabHostSpec,
        progress: Progress | None = None,
        stop: Callable[[], str] | None = None,
        settle: bool = True,
    ) -> Report:
        """Make this host hold exactly what the spec says (an empty spec: nothing). Without
        `settle`, new containers are not watched for a moment before they count as up (a
        `docker run` answers once started, as dockerd does; one that dies is seen dying).

        Raises EngineUnreachable when the container engine went away meanwhile, so that the
        caller may try again once it is back (converging again is always safe); raises Stopped,
        between two steps, once `stop` gives a reason.
        """
        try:
            runtime = self.runtime()
            try:
                config = self.config if settle else replace(self.config, app_settle_seconds=0)
                return converge(spec, config, runtime=runtime, progress=progress, stop=stop)
            finally:
                runtime.close()
        except RequestsConnectionError as exc:
            raise EngineUnreachable(f"the Docker engine could not be reached: {exc}") from None

    def destroy(self, lab: str, labhost: str, progress: Progress | None = None) -> Report:
        return self.converge(LabHostSpec.empty(lab, labhost), progress)

    def gc(
        self,
        known: set[str] | Callable[[], set[str]],
        labhost: str,
        progress: Progress | None = None,
        dry_run: bool = False,
    ) -> list[str]:
        """Take down every lab on this host whose tag is not in `known` (or only say which)."""
        runtime = self.runtime()
        try:
            return gc.collect(known, labhost, self.config, runtime, progress=progress, dry_run=dry_run)
        finally:
            runtime.close()

    # Warm sandboxes (worker/pool.py) ----------------------------------------------------------

    def keep_warm(
        self, sizes: dict[str, int], most: int, batch: int = 8, progress: Progress | None = None
    ) -> dict[str, Any] | None:
        """Top the pool up, a batch of new sandboxes at a time for as long as no deploy runs here
        (a class pressing Deploy goes first: it waits for one batch at most); None when a deploy
        ran from the start."""
        total: dict[str, int] | None = None
        runtime = self.runtime()
        try:
            while not pool.busy(self.config):
                wanted = pool.targets(self.config, sizes, most)
                done = pool.refill(runtime, self.config, wanted, batch, progress)
                total = {k: v + (total or {}).get(k, 0) for k, v in done.items()}
                if done["started"] < batch:
                    break
        finally:
            runtime.close()
        return total

    def warm_status(self, sizes: dict[str, int], most: int) -> list[dict[str, Any]]:
        runtime = self.runtime()
        try:
            return pool.status(runtime, self.config, pool.targets(self.config, sizes, most))
        finally:
            runtime.close()

    def prepare_warm(self, counts: dict[str, int], seconds: float) -> None:
        """Keep at least `counts` warm sandboxes per image for the next `seconds` (a class)."""
        pool.prepare(self.config, counts, seconds)

    def drain_warm(self) -> int:
        runtime = self.runtime()
        try:
            return pool.drain(runtime, self.config)
        finally:
            runtime.close()

    def disk_use(self) -> list[Written]:
        """What each running node of this installation wrote to its own filesystem (the disk
        is shared by every lab)."""
        runtime = self.runtime()
        try:
            return [w for w in runtime.written(self.config.mark) if w.lab]
        finally:
            runtime.close()

    def stop_containers(self, container_ids: list[str]) -> list[str]:
        """Stop these containers; returns those stopped (one gone meanwhile is not)."""
        runtime = self.runtime()
        stopped = []
        try:
            for container_id in container_ids:
                try:
                    runtime.stop(container_id)
                except EngineError:
                    continue
                stopped.append(container_id)
        finally:
            runtime.close()
        return stopped

    # Controls on a running lab ------------------------------------------------------------

    def cable(self, spec: LabHostSpec, node: str, iface: str, plugged: bool) -> None:
        set_cable(spec.lab, _cable(spec, node, iface), plugged, self.config.seen_mark)

    def probe(self, lab: str, node: str, check: health.Probe) -> tuple[bool, str]:
        """A health check of a running app instance: whether it passes, and why not."""
        runtime = self.runtime()
        try:
            info = node_container(runtime, lab, node)
            if info is None or info.status != "running" or not info.pid:
                return False, f"{node} is not running"
            return health.probe(runtime, info, check)
        finally:
            runtime.close()

    def set_unhealthy(self, lab: str, nodes: set[str]) -> list[str]:
        """The instances failing their health checks: the lab's services leave them out."""
        runtime = self.runtime()
        try:
            return services.set_unhealthy(self.config, runtime, lab, nodes)
        finally:
            runtime.close()

    def cable_plugged(self, spec: LabHostSpec, node: str, iface: str) -> bool:
        return cable_plugged(spec.lab, _cable(spec, node, iface), self.config.seen_mark)

    def impair(self, spec: LabHostSpec, node: str, iface: str, values: dict[str, Any]) -> Impairment:
        known = {f.name for f in fields(Impairment)}
        impairment = Impairment(**{k: v for k, v in values.items() if k in known})
        impair(spec.lab, _cable(spec, node, iface), impairment, self.config.seen_mark)
        return impairment

    def start_capture(
        self, spec: LabHostSpec, node: str, iface: str, seconds: int, max_bytes: int, *, name: str
    ) -> capture.Running:
        """Start capturing a cable's traffic, detached: `collect_capture` waits for it."""
        path = self.config.lock_dir / "captures" / f"{name}.pcap"
        cable = _cable(spec, node, iface)
        return capture.start(spec.lab, cable, seconds, max_bytes, path, installation=self.config.seen_mark)

    def collect_capture(self, running: capture.Running) -> bytes:
        return capture.collect(running)

    def capture_under_way(self, name: str) -> capture.Running | None:
        """A capture started by a worker of this lab host that stopped before collecting it."""
        return capture.Running.load(self.config.lock_dir / "captures" / f"{name}.pcap")

    def node_action(self, spec: LabHostSpec, node: str, action: str) -> list[str]:
        """Stop, start, restart or kill (SIGKILL) a node; after a start its links and addresses
        are made again."""
        if action not in NODE_ACTIONS:
            raise EngineError(f"'{action}' is not one of {', '.join(NODE_ACTIONS)}")
        runtime = self.runtime()
        try:
            # under the lab's lock: a destroy either finished before (the node is gone, and
            # nothing is brought back) or waits until the node is rewired
            with lab_lock(self.config, spec.lab):
                info = node_container(runtime, spec.lab, node)
                if info is None:
                    raise EngineError(f"{node} has no container to {action}")
                getattr(runtime, action)(info.id)
                if action in ("stop", "kill"):  # a service's backend that stopped is dropped at once
                    return services.refresh(self.config, runtime, spec.lab)
                return converge(spec, self.config, runtime=runtime, locked=True).changes
        finally:
            runtime.close()

    def exec(self, lab: str, node: str, command: list[str], timeout: float, limit: int) -> tuple[int, str]:
        """Run a command in a running node; output cut at `limit` bytes, killed after `timeout`."""
        runtime = self.runtime()
        try:
            info = node_container(runtime, lab, node)
            if info is None or info.status != "running":
                raise EngineError(f"node {node} is not running; deploy the lab first")
            return runtime.exec(info.id, command, timeout=timeout, limit=limit)
        finally:
            runtime.close()

    def nat(self, lab: str, node: str) -> dict[str, Any]:
        """A running emulated host's NAT rules with their counters and its tracked connections."""
        runtime = self.runtime()
        try:
            info = node_container(runtime, lab, node)
            if info is None or info.status != "running" or not info.pid:
                raise EngineError(f"node {node} is not running; deploy the lab first")
            return nat_view(info.pid)
        finally:
            runtime.close()

    def trace(self, spec: LabHostSpec, node: str, target: str, **probe: Any) -> dict[str, Any]:
        """A packet's journey from `node` to `target` (an address, or a name the node resolves):
        `protocol` (icmp, tcp, udp), `port`, `timeout`; see `journey.trace`."""
        runtime = self.runtime()
        try:
            return journey.trace(runtime, spec, node, target, installation=self.config.seen_mark, **probe)
        finally:
            runtime.close()

    def check(
        self,
        spec: LabHostSpec,
        checks: list[dict[str, Any]],
        progress: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Run an exercise's checks (`topology.exercise.plan_checks`) against the running lab;
        each result, a dict with `passed` and a sentence, also goes to `progress` as it comes."""
        runtime = self.runtime()
        try:
            results = run_checks(
                spec,
                checks,
                runtime,
                progress=(lambda r: progress(r.as_dict())) if progress else None,
                installation=self.config.seen_mark,
            )
        finally:
            runtime.close()
        return [r.as_dict() for r in results]

    def open_console(self, lab: str, node: str) -> tuple[Tty, Callable[[], None]]:
        """A shell with a TTY in a running node, and the call that releases it."""
        runtime = self.runtime()
        try:
            info = node_container(runtime, lab, node)
            if info is None or info.status != "running":
                raise EngineError(f"node {node} is not running")
            tty = runtime.open_tty(info.id, SHELL, {"TERM": "xterm-256color"})
        except BaseException:
            runtime.close()
            raise

        def release() -> None:
            try:
                tty.close()
            finally:
                runtime.close()

        return tty, release


def _cable(spec: LabHostSpec, node: str, iface: str) -> str:
    cable = spec.cables.get(f"{node}:{iface}")
    if cable is None:
        raise EngineError(
            f"{node}:{iface} has no cable in the deployed lab (redeploy it if it was just added)"
        )
    return cable
