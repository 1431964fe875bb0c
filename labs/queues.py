"""The one way from the web side to the lab hosts: a job sent by task name to a lab host's
queue (the web side never imports the engine).

Deploys, destroys, controls and node actions go to the lab host's own queue (its name);
commands, exercise checks, packet captures and traces, which may run for seconds to minutes at
a user's request, go to its slow queue, served by a worker pool of their own, so they never
hold up another user's deploy or cable pull.
"""

from __future__ import annotations

SLOW_SUFFIX = ".slow"
SLOW_KINDS = frozenset({"exec", "capture", "check", "trace"})

# The lab host's tasks (labs/tasks.py registers them under these names)
RUN_OPERATION = "labs.tasks.run_operation"
RUN_CAPTURE = "labs.tasks.run_capture"
PREPARE_WARM = "labs.tasks.prepare_warm"
COLLECT = "labs.tasks.collect"


def queue_of(labhost: str, kind: str) -> str:
    return f"{labhost}{SLOW_SUFFIX}" if kind in SLOW_KINDS else labhost


def slow_queue(labhost: str) -> str:
    return f"{labhost}{SLOW_SUFFIX}"


def send(task: str, labhost: str, kind: str = "", args: tuple = (), **kwargs) -> None:
    """Send `task` to `labhost` (its slow queue for a slow `kind`). Raises what the broker
    raises: the caller says in its row that the lab host could not be asked."""
    from celery import current_app

    current_app.send_task(task, args=list(args), kwargs=kwargs, queue=queue_of(labhost, kind))
