"""Shared fixtures: paths to the small topology files in tests/fixtures."""

import os
import shutil
from pathlib import Path

import docker
import pytest
from django.conf import settings

from tests.apart import RUN_DIR, keep_apart
from worker.labels import container_name

keep_apart(settings)  # before anything connects: see tests/apart.py
# The lab host processes the suite starts keep no warm sandboxes: a test that wants a pool
# asks for one and drains it (tests/labs/test_warm.py).
os.environ["WIRELAB_POOL"] = ""
# ... and pull from no registry: only a test's own loopback registry, when it says so (the
# settings of this process were read before this file: set there too).
os.environ["WIRELAB_IMAGE_PULL_FROM"] = ""
settings.WIRELAB_IMAGE_PULL_FROM = ()

pytest_plugins = ["tests.registry"]  # the test registry's fixtures

FIXTURES = Path(__file__).parent / "fixtures"
DEMOS = Path(__file__).parent.parent / "labs" / "demo"


@pytest.fixture(autouse=True)
def _fresh_channel_layer():
    """A channel layer of its own for each test. The layer is one object per process, and
    channels_redis keeps receive locks and cleaner tasks in it: a test's event loop, closed
    with such a task pending, left a lock that a later test's consumer waited on for good,
    hanging pytest-asyncio's loop teardown (`_cancel_all_tasks`)."""
    from channels.layers import channel_layers

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Rate limits and cached health are per test, as they would be per minute."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def fixture_text():
    def read(name: str) -> str:
        return (FIXTURES / name).read_text()

    return read


@pytest.fixture
def demo_text():
    def read(name: str) -> str:
        return (DEMOS / f"{name}.yaml").read_text()

    return read


@pytest.fixture
def run_in():
    """`run_in(tag, node, command)` -> (exit code, output), inside the node's container."""
    client = docker.from_env()

    def run(tag: str, node: str, command: str) -> tuple[int, str]:
        result = client.containers.get(container_name(tag, node)).exec_run(["sh", "-c", command])
        return result.exit_code, result.output.decode(errors="replace")

    yield run
    client.close()


def pytest_collection_modifyitems(items):
    """Tests marked `alone` run on one worker, one after the other (see scripts/test.sh)."""
    for item in items:
        if item.get_closest_marker("alone"):
            item.add_marker(pytest.mark.xdist_group("alone"))


def pytest_sessionfinish(session):
    """This process's run directory goes with it (its labs are gone); the slot's lock stays."""
    shutil.rmtree(RUN_DIR, ignore_errors=True)
