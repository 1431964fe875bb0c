"""Two hundred deploys and destroys in a row, as the lab host's worker carries them out, leave
the process's file descriptors and threads, the lab's namespaces, the interfaces and rules of
the lab host's own namespace and this process's Redis connections where they were. (Other
tests' labs come and go meanwhile: they never touch the lab host's own namespace either,
which tests/worker/test_engine.py holds to.)"""

import gc
import json
import os
import subprocess
import threading

import pytest
import redis
from django.conf import settings
from pyroute2 import IPRoute

from labs import lifecycle
from labs.hostside.jobs import carry_out
from labs.labfiles import import_lab
from tests.apart import redis_connections
from tests.labs.workers import star
from tests.worker.conftest import leftovers
from worker import fabric

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]
CYCLES = 200


def counts(tag: str) -> dict[str, int]:
    gc.collect()  # sockets of objects already dropped close now, not at some later collection
    with IPRoute() as ipr:
        links = len(ipr.get_links())
    ruleset = json.loads(
        subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, check=True).stdout
    )
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        connections = redis_connections(client)
    finally:
        client.close()
    return {
        "fds": len(os.listdir("/proc/self/fd")),
        "threads": threading.active_count(),
        "namespaces of the lab": len(fabric.owned(lab=tag)),
        "links in the lab host's namespace": links,
        "rules in the lab host's namespace": sum("rule" in item for item in ruleset["nftables"]),
        "redis connections": connections,
    }


def cycle(lab, user) -> None:
    assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    assert carry_out(lifecycle.request_destroy(lab, user, enqueue=False).id).status == "succeeded"


def test_many_deploy_destroy_cycles_leave_everything_at_its_baseline(user, labs_made):
    lab, _ = import_lab(star(2, "cycles"), user)
    labs_made.append(lab)
    for _ in range(3):  # connections and pools that are made once, on first use
        cycle(lab, user)
    baseline = counts(lab.tag)
    for _ in range(CYCLES):
        cycle(lab, user)
    assert counts(lab.tag) == baseline
    assert leftovers(lab.tag) == []
