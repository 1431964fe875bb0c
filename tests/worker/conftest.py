"""Real-kernel fixtures: deploy specs with the engine under a fresh tag, and take down
everything the test made, by its tag, even when the test fails."""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass

import docker
import pytest
from pyroute2 import IPRoute

from tests.apart import INSTALLATION
from topology.addressing import Assignments
from topology.compiler import compile_lab
from topology.document import read_document
from topology.spec import LabHostSpec
from worker import fabric
from worker.config import EngineConfig
from worker.converge import converge, destroy
from worker.docker_runtime import DockerRuntime
from worker.report import Report

CONFIG = EngineConfig(app_settle_seconds=0.5, installation=INSTALLATION)


@dataclass
class Deployed:
    tag: str
    spec: LabHostSpec
    report: Report
    assignments: Assignments


def new_tag() -> str:
    return "t" + secrets.token_hex(3)


def leftovers(tag: str) -> list[str]:
    client = docker.from_env()
    try:
        listed = client.api.containers(all=True, filters={"label": f"wirelab.lab={tag}"})  # no inspects:
        # warm sandboxes claimed into the lab are its by their names
        listed += client.api.containers(all=True, filters={"label": "wirelab.pool", "name": f"^/wl-{tag}-"})
        found = [c["Names"][0].lstrip("/") for c in listed]  # they may be removed meanwhile
    finally:
        client.close()
    found += [f"namespace {name}" for name in fabric.owned(lab=tag)]
    with IPRoute() as ipr:  # nothing of the lab's in the lab host's own namespace either
        for link in ipr.get_links():
            if (link.get_attr("IFLA_IFALIAS") or "").startswith(f"wirelab:{tag}"):
                found.append(f"interface {link.get_attr('IFLA_IFNAME')}")
    return found


@pytest.fixture
def engine():
    """`engine(text, tag=None, previous=None, config=CONFIG)` compiles and converges; cleans up
    after."""
    tags: dict[str, EngineConfig] = {}  # each lab, with the engine that made it (only it removes it)

    def deploy(
        text: str, tag: str | None = None, previous: Assignments | None = None, config: EngineConfig = CONFIG
    ) -> Deployed:
        tag = tag or new_tag()
        tags.setdefault(tag, config)
        specs, assignments = compile_lab(read_document(text), tag, "local", previous)
        report = converge(specs["local"], config)
        return Deployed(tag, specs["local"], report, assignments)

    deploy.tags = tags
    yield deploy
    for tag, config in tags.items():
        destroy(tag, "local", config=config)
    assert [left for tag in tags for left in leftovers(tag)] == []


def in_netns_of(tag: str, node: str, command: list[str]) -> str:
    """What a command run by the lab host in a sandbox's network namespace prints (for tools the
    node's image lacks: nft, iptables-save)."""
    runtime = DockerRuntime(CONFIG)
    try:
        pid = next(i.pid for i in runtime.list_containers(tag) if i.node == node and i.role == "sandbox")
    finally:
        runtime.close()
    done = subprocess.run(
        ["nsenter", f"--net=/proc/{pid}/ns/net", *command], capture_output=True, text=True, check=False
    )
    return done.stdout
