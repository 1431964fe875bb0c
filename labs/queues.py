"""The Celery queues of a lab host.

Deploys, destroys, controls and node actions go to the lab host's own queue (its name);
commands, exercise checks, packet captures and traces, which may run for seconds to minutes at
a user's request, go to its slow queue, served by a worker pool of their own, so they never
hold up another user's deploy or cable pull.
"""

SLOW_SUFFIX = ".slow"
SLOW_KINDS = frozenset({"exec", "capture", "check", "trace"})


def queue_of(labhost: str, kind: str) -> str:
    return f"{labhost}{SLOW_SUFFIX}" if kind in SLOW_KINDS else labhost


def slow_queue(labhost: str) -> str:
    return f"{labhost}{SLOW_SUFFIX}"
