"""A lab host's build of one of Wirelab's images is bounded: stopped, with everything it
started, past its time or when the deploy must stop, even while it prints nothing."""

import time
from pathlib import Path

import pytest

from tests.waiting import wait_for
from worker.errors import ImageMissing, Stopped
from worker.images import build

SILENT_BUILD = """#!/bin/sh
echo "==> Building $1"
sleep 60 &
echo $! > "{pids}"
wait
"""


@pytest.fixture
def silent_build(tmp_path):
    """A build script that says one line and then nothing for a minute; its sleep's pid file."""
    script, pids = tmp_path / "build.sh", tmp_path / "pids"
    script.write_text(SILENT_BUILD.format(pids=pids))
    script.chmod(0o755)
    return script, pids


def gone(pid: int) -> bool:
    """No such process, or one that has ended and waits for its new parent to collect it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_a_build_past_its_time_is_stopped_with_what_it_started(silent_build):
    script, pids = silent_build
    said: list[str] = []
    started = time.monotonic()
    with pytest.raises(
        ImageMissing, match=r"building image wirelab/frr took longer than 1 s; nothing was changed"
    ):
        build("frr", "wirelab/frr", 1, say=said.append, checkpoint=lambda: None, script=script)
    assert time.monotonic() - started < 30  # not the minute the script would have slept
    assert said[:2] == ["building image wirelab/frr on this lab host (its first use here; about a minute)",
                        "  ==> Building frr"]  # fmt: skip
    wait_for(lambda: gone(int(pids.read_text())), 10, "the build's own process to end")


def test_a_build_stops_when_the_deploy_must(silent_build):
    script, pids = silent_build
    calls = []

    def checkpoint():
        calls.append(1)
        if len(calls) > 2:
            raise Stopped("a destroy was asked for")

    with pytest.raises(Stopped):
        build("frr", "wirelab/frr", 600, say=lambda _: None, checkpoint=checkpoint, script=script)
    wait_for(lambda: gone(int(pids.read_text())), 10, "the build's own process to end")
