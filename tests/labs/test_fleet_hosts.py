"""Two lab hosts on this machine, each its own `manage.py labhost run` (two workers and a
monitor, its own name, queue and underlay address) sharing the one Docker engine: each sees
and touches only what it made; pins, cordons and spreading place labs; a lab host whose
processes die is found lost with its labs; evacuating redeploys them on the other; the lost
one, back, takes down what it held for them; draining moves labs the other way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import docker
import pytest
from asgiref.sync import async_to_sync
from django.db import connection

from labs import controls, fleet, labhost_actions, lifecycle
from labs.labfiles import import_lab
from labs.live.state import snapshot
from labs.models import Capture, Installation, Lab, LabHost, LabStatus, Operation
from tests.labs.workers import star
from tests.processes import shared_database_url
from tests.waiting import wait_for
from worker import fabric
from worker.config import EngineConfig
from worker.converge import destroy

pytestmark = pytest.mark.kernel
MANAGE = Path(__file__).resolve().parents[2] / "manage.py"
FAST = {"WIRELAB_HEARTBEAT_SECONDS": "1", "WIRELAB_LABHOST_LOST_SECONDS": "6"}


class LabHostProcess:
    """`manage.py labhost run` for one lab host, in a session of its own (killed as a group)."""

    def __init__(self, name: str, underlay: str, logs: Path, underlay_netns: str = ""):
        self.name, self.underlay, self.logs, self.underlay_netns = name, underlay, logs, underlay_netns
        self.start()

    @property
    def config(self) -> EngineConfig:
        """The engine configuration its workers run with (to clean up after it by hand)."""
        key = Installation.current_key()
        return EngineConfig(installation=key, labhost=self.name, underlay_netns=self.underlay_netns)

    def start(self) -> None:
        env = dict(os.environ, DATABASE_URL=shared_database_url(), **FAST)
        command = [sys.executable, str(MANAGE), "labhost", "run", "--name", self.name,
                   "--underlay", self.underlay, "--log-dir", str(self.logs)]  # fmt: skip
        if self.underlay_netns:
            command += ["--underlay-netns", self.underlay_netns]
        self.process = subprocess.Popen(command, env=env, stdout=open(self.logs / "labhost.log", "a"),  # noqa: SIM115
                                        stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)


def marked(mark: str) -> dict[str, set[str]]:
    """Lab tag -> node names of the containers carrying `mark`, on the shared Docker engine."""
    client = docker.from_env()
    try:
        found = client.api.containers(all=True, filters={"label": f"wirelab.installation={mark}"})
    finally:
        client.close()
    out: dict[str, set[str]] = {}
    for item in found:
        labels = item["Labels"]
        out.setdefault(labels["wirelab.lab"], set()).add(labels.get("wirelab.node", ""))
    return out


@pytest.fixture
def two_labhosts(transactional_db, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs the PostgreSQL database that `make test` provides")
    settings.WIRELAB_LABHOST_LOST_SECONDS = 6
    settings.WIRELAB_QUOTA_RUNNING_LABS = 10
    with labhosts(tmp_path, {"a": ("198.19.250.1", ""), "b": ("198.19.250.2", "")}) as hosts:
        yield hosts


@contextlib.contextmanager
def labhosts(tmp_path: Path, underlays: dict[str, tuple[str, str]]):
    """A `labhost run` per letter, with its (underlay address, underlay namespace); all killed and
    everything they made removed afterwards."""
    suffix = uuid.uuid4().hex[:4]
    hosts = {}
    try:
        for letter, (address, netns) in underlays.items():
            logs = tmp_path / letter
            logs.mkdir()
            hosts[letter] = LabHostProcess(f"fleet-{letter}-{suffix}", address, logs, netns)
        yield hosts
    finally:
        for process in hosts.values():
            process.kill()
        clean_up_after(hosts.values())


def clean_up_after(processes) -> None:
    """Everything the lab hosts made, whichever lab it was for, even when the test failed."""
    for process in processes:
        for tag in set(marked(process.config.mark)) | {lab.tag for lab in Lab.objects.all()}:
            destroy(tag, process.name, config=process.config)
    for process in processes:
        assert marked(process.config.mark) == {}
        assert fabric.owned(process.config.mark) == {}


def link_up(tag: str, name: str) -> bool:
    """Whether the live state (written only by the monitor of the lab's lab host) has the link up."""
    return snapshot(tag)["links"].get(name, {}).get("oper") == "up"


async def console_says(lab_id: int, user, node: str, keys: bytes, needle: bytes) -> bytes:
    """What a node's console prints after `keys` until `needle`, through the web's socket and the
    channel layer to the relay of the lab's own lab host (this process has none)."""
    from tests.labs.live_helpers import connect
    from tests.labs.live_helpers import read_until as _read_until

    ws = await connect(f"/ws/labs/{lab_id}/nodes/{node}/console/", user)
    assert (await ws.connect())[0]
    try:
        await ws.send_to(bytes_data=keys)
        return await _read_until(ws, needle, timeout=60)
    finally:
        await ws.disconnect()


def status_of(lab: Lab) -> tuple[str, str]:
    fresh = Lab.objects.get(id=lab.id)
    return fresh.status, fresh.labhost


def test_labs_are_placed_lost_evacuated_and_drained_across_two_lab_hosts(two_labhosts, user):
    a, b = two_labhosts["a"], two_labhosts["b"]
    key = Installation.current_key()
    wait_for(lambda: {h.name for h in fleet.alive()} >= {a.name, b.name}, 90, "both lab hosts to register")
    assert LabHost.objects.get(name=b.name).underlay == "198.19.250.2"

    # A pin decides; what b made carries b's mark only, and its slow queue serves commands.
    pinned, _ = import_lab(star(2, "pinned") + f"placement: {{labhost: {b.name}}}\n", user)
    assert lifecycle.request_deploy(pinned, user).labhost == b.name
    wait_for(lambda: status_of(pinned) == ("running", b.name), 120, "the pinned lab to run on b")
    pinned.refresh_from_db()
    assert marked(f"{key}/{b.name}") == {pinned.tag: {"h0", "h1"}}
    assert pinned.tag not in marked(f"{key}/{a.name}")
    wait_for(lambda: link_up(pinned.tag, "h0:eth0"), 60, "b's monitor to report the pinned lab's link")
    job = lifecycle.request_job(pinned, "exec", {"node": "h1", "command": ["hostname"]}, user)
    wait_for(lambda: Operation.objects.get(id=job.id).done, 60, "a command on b's lab")
    assert Operation.objects.get(id=job.id).result["exit_code"] == 0
    assert b"fleet-console-ok" in async_to_sync(console_says)(
        pinned.id, user, "h0", b"echo fleet-console-o''k\n", b"fleet-console-ok"
    )
    capture = controls.request_capture(Lab.objects.get(id=pinned.id), "h0", "eth0", 1, 100_000)
    wait_for(lambda: Capture.objects.get(id=capture.id).status in ("done", "failed"), 60, "b to capture")
    assert Capture.objects.get(id=capture.id).status == "done"

    # Cordoned, a lab host takes no new lab; active again, spreading sends the next one to it.
    labhost_actions.set_state(LabHost.objects.get(name=a.name), LabHost.State.CORDONED)
    avoided, _ = import_lab(star(1, "avoided"), user)
    assert lifecycle.request_deploy(avoided, user).labhost == b.name
    labhost_actions.set_state(LabHost.objects.get(name=a.name), LabHost.State.ACTIVE)
    spread, _ = import_lab(star(1, "spread"), user)
    assert lifecycle.request_deploy(spread, user).labhost == a.name
    for lab, where in ((avoided, b.name), (spread, a.name)):
        wait_for(lambda lab=lab, where=where: status_of(lab) == ("running", where), 120, f"{lab.slug} to run")

    # b's processes die: a's heartbeat finds b lost, and b's labs say so.
    old_tags = {lab.slug: Lab.objects.get(id=lab.id).tag for lab in (pinned, avoided)}
    b.kill()
    for lab in (pinned, avoided):
        wait_for(lambda lab=lab: status_of(lab)[0] == LabStatus.LOST, 60, f"{lab.slug} to be lost")
    assert Lab.objects.get(id=pinned.id).status_reason.startswith(f"lab host {b.name} lost")
    assert LabHost.objects.get(name=b.name).lost

    # Evacuating redeploys them on a under new tags; b's copies (b is dead) are still there.
    said = labhost_actions.evacuate(LabHost.objects.get(name=b.name))
    assert sorted(said) == sorted(f"{lab.slug} goes to {a.name}" for lab in (pinned, avoided))
    for lab in (pinned, avoided):
        wait_for(lambda lab=lab: status_of(lab) == ("running", a.name), 120, f"{lab.slug} to run on a")
        assert Lab.objects.get(id=lab.id).tag != old_tags[lab.slug]
        wait_for(
            lambda lab=lab: link_up(Lab.objects.get(id=lab.id).tag, "h0:eth0"), 60, "a's monitor to report"
        )
    assert set(marked(f"{key}/{b.name}")) == set(old_tags.values())

    # b comes back: it takes down what it held for the labs that moved, and nothing else.
    b.start()
    wait_for(lambda: marked(f"{key}/{b.name}") == {}, 90, "b to collect what the moved labs left")
    wait_for(lambda: not LabHost.objects.get(name=b.name).lost, 60, "b to be alive again")
    assert all(status_of(lab) == ("running", a.name) for lab in (pinned, avoided, spread))

    # Draining a moves its running labs to b; a then holds nothing of theirs.
    said = labhost_actions.drain(LabHost.objects.get(name=a.name))
    assert len(said) == 3 and all(line.endswith(f"goes to {b.name}") for line in said)
    for lab in (pinned, avoided, spread):
        wait_for(lambda lab=lab: status_of(lab) == ("running", b.name), 120, f"{lab.slug} to run on b")
    wait_for(lambda: marked(f"{key}/{a.name}") == {}, 90, "a to take down the drained labs' containers")
    tags = {Lab.objects.get(id=lab.id).tag for lab in (pinned, avoided, spread)}
    assert set(marked(f"{key}/{b.name}")) == tags

    # b dies again and comes back before anyone moves its labs: it restores them where they were.
    b.kill()
    for lab in (pinned, avoided, spread):
        wait_for(lambda lab=lab: status_of(lab)[0] == LabStatus.LOST, 60, f"{lab.slug} to be lost again")
    b.start()
    for lab in (pinned, avoided, spread):
        wait_for(
            lambda lab=lab: status_of(lab) == ("running", b.name), 120, f"{lab.slug} to be restored on b"
        )
    assert {Lab.objects.get(id=lab.id).tag for lab in (pinned, avoided, spread)} == tags
    assert set(marked(f"{key}/{b.name}")) == tags
