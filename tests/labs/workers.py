"""Helpers for tests that run real lab-host workers: labs on a queue of their own and what a
lab holds on the Docker engine."""

from __future__ import annotations

import contextlib
import os
import signal
import uuid
from pathlib import Path

import docker
import pytest
from django.db import connection

from labs.labfiles import import_lab
from labs.models import Lab
from tests.processes import start_worker


def star(n: int, name: str) -> str:
    hosts = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return f"name: {name}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.0.0/24}}\nnodes:\n{hosts}"


def lab_on_own_queue(user, labs_made, hosts: int, name: str, settings) -> tuple[Lab, str]:
    """A star lab whose lab host is a queue of its own (for a worker the test starts and kills);
    this process acts as that lab host too (what one lab host makes, only it sees)."""
    if connection.vendor != "postgresql":
        pytest.fail("this test needs the PostgreSQL database that `make test` provides")
    lab, _ = import_lab(star(hosts, name), user)
    lab.labhost = settings.WIRELAB_LABHOST = f"fault-{uuid.uuid4().hex[:6]}"
    lab.save()
    labs_made.append(lab)
    return lab, lab.labhost


class Worker:
    """A lab-host worker process the test may kill and start again; killed at the end."""

    def __init__(self, queue: str, log: Path, env: dict | None = None):
        self.queue, self.log, self.env = queue, log, env
        self.process = start_worker(queue, log, env=env)

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):  # its group is gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def restart(self) -> None:
        self.kill()
        self.process = start_worker(self.queue, self.log, env=self.env)

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc) -> None:
        self.kill()


def containers_of(tag: str) -> dict[str, str]:
    """Node name -> container status, for every container carrying the lab's tag."""
    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": f"wirelab.lab={tag}"})  # no inspects:
        return {c["Labels"].get("wirelab.node", c["Id"]): c["State"] for c in found}  # they may go meanwhile
    finally:
        client.close()
