"""A lab host's processes on its machine (`manage.py labhost run`): the worker of its own queue
(deploys, destroys, controls; it registers the lab host and heartbeats), the workers of its slow
queue (commands, captures, traces) and of its grading queue (exercise checks), and the live
monitor. If one of them ends, the others are
stopped too, so the lab host is either whole or visibly gone (and found lost)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from ..queues import GRADING_SUFFIX, SLOW_SUFFIX, THREADS

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"
STOP_SECONDS = 15


def commands(name: str) -> dict[str, list[str]]:
    celery = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--pool",
        "threads",
        "--loglevel",
        "INFO",
    ]

    # Threads, not forked pool processes: the engine forks helpers into lab namespaces (pyroute2),
    # which a prefork pool child does not survive; and a long deploy must not hold up a cable pull.
    def worker(suffix: str, part: str) -> list[str]:
        queue = f"{name}{suffix}"
        return [*celery, "-Q", queue, "-n", f"{name}{part}@%h", "--concurrency", str(THREADS[suffix])]

    return {
        "worker": worker("", ""),
        "worker-slow": worker(SLOW_SUFFIX, "-slow"),
        "worker-grading": worker(GRADING_SUFFIX, "-grading"),
        "monitor": [sys.executable, str(MANAGE), "labhost", "monitor"],
    }


def run_labhost(
    name: str,
    underlay: str | None,
    containers: int,
    log_dir: str | None,
    *,
    underlay_netns: str = "",
    say=print,
) -> int:
    """Start them all, wait until one ends or a signal comes, stop the rest; the exit code of
    the first to end (0 when stopped by a signal)."""
    env = dict(os.environ, WIRELAB_LABHOST=name, WIRELAB_LABHOST_CONTAINERS=str(containers))
    if underlay:
        env["WIRELAB_UNDERLAY"] = underlay
    if underlay_netns:
        env["WIRELAB_UNDERLAY_NETNS"] = underlay_netns
    stop = threading.Event()
    ended: list[int] = []  # the exit code of a process that ended on its own, before any stop
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = {}
    for part, command in commands(name).items():
        output = open(Path(log_dir) / f"{part}.log", "a") if log_dir else None  # noqa: SIM115 (the child keeps it)
        started[part] = subprocess.Popen(
            command, env=env, stdout=output, stderr=subprocess.STDOUT if output else None
        )
    say(f"lab host {name}: " + ", ".join(f"{part} (pid {p.pid})" for part, p in started.items()))

    def watch(process: subprocess.Popen) -> None:
        code = process.wait()
        if not stop.is_set():
            ended.append(code or 1)
        stop.set()

    for process in started.values():
        threading.Thread(target=watch, args=(process,), daemon=True).start()
    stop.wait()
    for process in started.values():
        if process.poll() is None:
            process.terminate()
    for process in started.values():
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return ended[0] if ended else 0
