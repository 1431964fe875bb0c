"""The one way from the web side to the lab hosts: a job sent by task name to a lab host's
queue (the web side never imports the engine).

Deploys, destroys, controls and node actions go to the lab host's own queue (its name);
commands, packet captures and traces, which may run for seconds at a user's request, go to its
slow queue; exercise checks to its grading queue. Each queue has a worker pool of its own, so a
slow job never holds up another user's deploy or cable pull, and a class's check rounds never
wait behind anyone's commands. One user's jobs take at most `share()` threads of a pool: always
fewer than all of them.
"""

from __future__ import annotations

SLOW_SUFFIX = ".slow"
GRADING_SUFFIX = ".grading"
SLOW_KINDS = frozenset({"exec", "capture", "trace"})
GRADING_KINDS = frozenset({"check"})
THREADS = {"": 4, SLOW_SUFFIX: 4, GRADING_SUFFIX: 3}  # each queue's worker pool, by suffix

# The lab host's tasks (labs/tasks.py registers them under these names)
RUN_OPERATION = "labs.tasks.run_operation"
RUN_CAPTURE = "labs.tasks.run_capture"
PREPARE_WARM = "labs.tasks.prepare_warm"
COLLECT = "labs.tasks.collect"


def suffix_of(kind: str) -> str:
    if kind in SLOW_KINDS:
        return SLOW_SUFFIX
    return GRADING_SUFFIX if kind in GRADING_KINDS else ""


def queue_of(labhost: str, kind: str) -> str:
    return f"{labhost}{suffix_of(kind)}"


def queues_of(labhost: str) -> list[str]:
    """Every queue of a lab host: its own, then the slow and the grading queue."""
    return [f"{labhost}{suffix}" for suffix in THREADS]


def share(kind: str, per_user: int) -> int:
    """How many of one user's jobs of `kind` may run at once on a lab host: the setting, but
    always at least one thread of the pool left for everyone else."""
    return max(1, min(per_user, THREADS[suffix_of(kind)] - 1))


def send(task: str, labhost: str, kind: str = "", args: tuple = (), **kwargs) -> None:
    """Send `task` to `labhost` (its slow queue for a slow `kind`). Raises what the broker
    raises: the caller says in its row that the lab host could not be asked."""
    from celery import current_app

    current_app.send_task(task, args=list(args), kwargs=kwargs, queue=queue_of(labhost, kind))
