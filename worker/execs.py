"""A node's startup commands: run once it is wired, their output kept for the lab's log.

The outcome is written inside the node, so a later converge knows they ran and how.
"""

from __future__ import annotations

import shlex

from .containers import EXEC_MARKER
from .runtime import DockerRuntime


def run_startup(runtime: DockerRuntime, container_id: str, node: str, commands: list[str], log) -> str:
    """Run commands in order, stopping at the first failure; returns '' or the failure."""
    outcome = ""
    for command in commands:
        code, output = runtime.exec(container_id, ["sh", "-c", command])
        log(f"{node}: $ {command} (exit {code})")
        for line in output.strip().splitlines()[-20:]:
            log(f"{node}:   {line}")
        if code != 0:
            last = output.strip().splitlines()[-1] if output.strip() else ""
            outcome = f"startup command `{command}` exited {code}" + (f": {last}" if last else "")
            break
    runtime.exec(container_id, ["sh", "-c", f"printf %s {shlex.quote(outcome or 'ok')} > {EXEC_MARKER}"])
    return outcome


def previous_outcome(runtime: DockerRuntime, container_id: str) -> str | None:
    """'' when the commands ran fine before, the failure if not, None if they never ran."""
    code, output = runtime.exec(container_id, ["cat", EXEC_MARKER])
    if code != 0:
        return None
    return "" if output == "ok" else output
