"""A node's startup commands: run once it is wired, their output kept for the lab's log.

The outcome is written inside the node, so a later converge knows they ran and how.
"""

from __future__ import annotations

import shlex

from .config import EngineConfig
from .containers import EXEC_MARKER
from .report import Progress
from .runtime import Runtime


def run_startup(
    runtime: Runtime,
    container_id: str,
    pid: int,
    node: str,
    commands: list[str],
    *,
    log: Progress,
    config: EngineConfig,
) -> str:
    """Run commands in order, stopping at the first failure; returns '' or the failure.

    Each is bounded in time and output (`config.exec_timeout`, `config.exec_output_limit`).
    """
    outcome = ""
    for command in commands:
        code, output = runtime.exec(
            container_id, ["sh", "-c", command], timeout=config.exec_timeout, limit=config.exec_output_limit
        )
        log(f"{node}: $ {command} (exit {code})")
        for line in output.strip().splitlines()[-20:]:
            log(f"{node}:   {line}")
        if code != 0:
            last = output.strip().splitlines()[-1] if output.strip() else ""
            outcome = f"startup command `{command}` exited {code}" + (f": {last}" if last else "")
            break
    record = f"{pid} {outcome or 'ok'}"
    runtime.exec(container_id, ["sh", "-c", f"printf %s {shlex.quote(record)} > {EXEC_MARKER}"], timeout=10)
    return outcome


def previous_outcome(runtime: Runtime, container_id: str, pid: int) -> str | None:
    """'' when the commands ran fine in this run of the node, the failure if not, None if
    they have not run since it (re)started: a restarted node gets its commands again."""
    code, output = runtime.exec(container_id, ["cat", EXEC_MARKER], timeout=10, limit=4096)
    ran_in, _, outcome = output.partition(" ")
    if code != 0 or ran_in != str(pid):
        return None
    return "" if outcome == "ok" else outcome
