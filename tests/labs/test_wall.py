"""The wall between the web and the lab host: consoles and commands are served by the lab host
that holds the lab, even when the web tier has no container engine at all (that the web process
never loads the engine's libraries is tests/test_wall.py, in the fast tier)."""

import asyncio
import os
import time
import uuid

import pytest
from django.core.management import call_command

from labs import lifecycle
from labs.labfiles import import_lab
from labs.models import Operation
from tests.processes import start_worker
from tests.worker.conftest import leftovers

from .live_helpers import TWO_ROUTERS, connect

pytestmark = pytest.mark.kernel


@pytest.fixture
def remote_labhost(tmp_path, transactional_db):
    """A lab host that is another process with its own queue; its labs are destroyed after."""
    queue = f"far-{uuid.uuid4().hex[:6]}"
    worker = start_worker(queue, tmp_path / "worker.log")
    made = []
    yield queue, made
    for lab in made:
        if lab.status != "stopped":
            op = lifecycle.request_destroy(lab, enqueue=True)
            _wait_done(op, 120)
    worker.kill()
    worker.wait(timeout=10)
    for lab in made:
        assert leftovers(lab.tag) == []


def _wait_done(op: Operation, ceiling: float) -> Operation:
    deadline = time.monotonic() + ceiling
    while not op.done:
        assert time.monotonic() < deadline, f"#{op.id} {op.kind} not done: {op.log[-500:]}"
        time.sleep(0.2)
        op.refresh_from_db()
    return op


@pytest.mark.django_db(transaction=True)
def test_console_and_exec_come_from_the_lab_host_while_the_web_has_no_docker(
    remote_labhost, user, monkeypatch, capfd
):
    queue, made = remote_labhost
    lab, _ = import_lab(TWO_ROUTERS, user)
    lab.labhost = queue
    lab.save(update_fields=["labhost"])
    made.append(lab)
    with monkeypatch.context() as web_tier:
        web_tier.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # nothing listens there
        _deploy_exec_and_console(lab, user, capfd)


def _deploy_exec_and_console(lab, user, capfd):
    op = _wait_done(lifecycle.request_deploy(lab, user), 180)
    assert op.status == "succeeded", op.log
    lab.refresh_from_db()

    with pytest.raises(SystemExit) as exited:
        call_command("lab", "exec", lab.slug, "a", "--", "sh", "-c", "echo from-$(hostname); exit 3")
    assert exited.value.code == 3
    assert "from-a" in capfd.readouterr().out
    assert Operation.objects.filter(lab=lab, kind="exec", status="succeeded").exists()

    call_command("lab", "trace", lab.slug, "a", "b")  # by name, from the lab host's slow worker
    said = capfd.readouterr().out.splitlines()
    assert said[0].startswith("icmp a -> b (198.18.30.2): reached at b"), said
    assert [line.split()[:2] for line in said[1:]] == [
        ["request", "a"], ["request", "cable"], ["request", "cable"], ["request", "b"],
        ["reply", "b"], ["reply", "cable"], ["reply", "cable"], ["reply", "a"],
    ]  # fmt: skip

    asyncio.run(_console_says_hello(lab, user))


async def _console_says_hello(lab, user):
    ws = await connect(f"/ws/labs/{lab.id}/nodes/b/console/", user)
    connected, _ = await ws.connect()
    assert connected
    await ws.send_to(bytes_data=b"echo hel''lo-$(hostname)\n")
    seen, deadline = b"", time.monotonic() + 30
    while b"hello-b" not in seen.replace(b"\r", b""):
        assert time.monotonic() < deadline, seen
        seen += (await ws.receive_output(timeout=30)).get("bytes") or b""
    await ws.send_to(text_data='{"type": "resize", "cols": "x"}')  # ignored, not fatal
    await ws.send_to(text_data="[1, 2]")
    await ws.send_to(bytes_data=b"echo still-$(hostname)\n")
    while b"still-b" not in seen.replace(b"\r", b""):
        assert time.monotonic() < deadline, seen
        seen += (await ws.receive_output(timeout=30)).get("bytes") or b""
    await ws.disconnect()
    assert os.environ["DOCKER_HOST"] == "tcp://127.0.0.1:9"
