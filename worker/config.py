"""The engine's plain configuration object, built once by the caller and passed in."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class EngineConfig:
    """Limits and timeouts for one lab host's engine."""

    docker_timeout: float = 60.0
    workers: int = 4  # parallel Docker calls and namespace configurations
    memory_limit: str = "256m"
    pids_limit: int = 256
    nofile_limit: int = 1024  # open files per process: with pids_limit, a node's descriptors are bounded
    cpu_limit: float = 1.0  # CPUs one container may use
    log_max_size: str = "1m"  # per log file; Docker keeps two
    app_settle_seconds: float = 1.0  # how long a new app has to fail before it counts as up
    exec_timeout: float = 60.0  # a startup command is stopped after this long
    exec_output_limit: int = 65536  # ... or once it has printed this much
    # Locks, claims, captures and CNI state; each lab host on one machine needs its own. The
    # default comes from the environment, for the processes that make an EngineConfig() of
    # their own (benchmarks, a test's lab host): the web side's settings name it too.
    lock_dir: Path = field(default_factory=lambda: Path(os.environ.get("WIRELAB_RUN_DIR", "/run/wirelab")))
    # Which installation's labs these are: everything made carries it, and garbage collection
    # only ever considers what carries this installation's mark.
    installation: str = "engine"
    # The lab host this engine serves, when several share one installation: it joins the mark,
    # so each sees and touches only what it made itself, even when they share a Docker engine.
    labhost: str = ""
    # Deploys take started sandboxes from this lab host's warm pool (worker/pool.py) when it has
    # some of the image; the pool itself is filled by the lab host's upkeep.
    pool: bool = False
    # Images a lab names and this lab host lacks: Wirelab's own are built, others pulled from
    # the registries matching these patterns (none by default), each bounded (worker/images.py).
    pull_from: tuple[str, ...] = ()
    # The network namespace holding this lab host's underlay address, where the tunnels that
    # stitch a lab across lab hosts start: '' is the machine's own (a path or a name in
    # /var/run/netns otherwise: several lab hosts on one machine, each with an underlay of its own).
    underlay_netns: str = ""
    image_max_mb: int = 4096
    image_build_seconds: float = 900.0

    @property
    def claims_dir(self) -> Path:
        """Where the engine records what each claimed warm sandbox was personalised for."""
        return self.lock_dir / "claims"

    @property
    def underlay_path(self) -> str:
        name = self.underlay_netns
        return name if not name or name.startswith("/") else f"/var/run/netns/{name}"

    @property
    def seen_mark(self) -> str | None:
        """The mark what this engine looks at must carry: its own when it serves one of several lab
        hosts; none (a lab's tag alone decides) for an installation's only engine, as its container
        listing does."""
        return self.mark if self.labhost else None

    @property
    def mark(self) -> str:
        """What everything this engine makes carries (container label, fabric loopback alias)."""
        return f"{self.installation}/{self.labhost}" if self.labhost else self.installation
