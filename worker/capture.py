"""Packet captures on a node interface's cable end in the fabric, bounded by time and size.

A capture runs detached from the job that starts it: tcpdump writes to a file, under `timeout`
and a byte cap, in a session of its own, so no worker waits on it for its seconds. `collect()`
waits for its end (or ends it, past its time) and returns what it caught.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import EngineError
from .live.controls import fabric_of

GRACE_SECONDS = 10.0  # beyond its time, before a capture that has not ended is ended


@dataclass(frozen=True)
class Running:
    """A capture under way: where its packets go and the session it runs in."""

    path: Path
    pid: int
    seconds: int
    max_bytes: int
    started: float  # time.time() when it started

    @property
    def errors(self) -> Path:
        return self.path.with_suffix(".err")

    @property
    def record(self) -> Path:
        return self.path.with_suffix(".json")

    @classmethod
    def load(cls, path: Path) -> Running | None:
        """The capture started into `path`, as it was recorded (None: there is none)."""
        try:
            data = json.loads(path.with_suffix(".json").read_text())
            return cls(
                path, int(data["pid"]), int(data["seconds"]), int(data["max_bytes"]), float(data["started"])
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


def start(
    lab: str, cable: str, seconds: int, max_bytes: int, path: Path, *, installation: str | None = None
) -> Running:
    """Start capturing what crosses a cable (its fabric end) for up to `seconds` into `path`
    (at most `max_bytes`), and return at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tcpdump = shlex.join([
        "ip", "netns", "exec", os.path.basename(fabric_of(lab, installation)),
        "timeout", "--foreground", "--signal=INT", str(seconds),
        "tcpdump", "-i", cable, "-U", "-s", "262144", "-w", "-",
    ])  # fmt: skip
    # head ends the pipe at the cap; tcpdump then ends on SIGPIPE
    script = f"{tcpdump} 2>{shlex.quote(str(path.with_suffix('.err')))} | head -c {int(max_bytes)}"
    try:
        with open(path, "wb") as out:
            proc = subprocess.Popen(["sh", "-c", script], stdout=out, start_new_session=True)
    except OSError as exc:
        raise EngineError(f"cannot capture: {exc}") from None
    _reap_later(proc)
    running = Running(path, proc.pid, seconds, max_bytes, time.time())
    fields = {"pid": running.pid, "seconds": seconds, "max_bytes": max_bytes, "started": running.started}
    running.record.write_text(json.dumps(fields))  # for a worker that restarts meanwhile
    return running


def collect(running: Running) -> bytes:
    """What the capture caught, once it has ended (ended at its time plus a grace if it has
    not); its files are removed."""
    deadline = running.started + running.seconds + GRACE_SECONDS
    while _alive(running.pid) and time.time() < deadline:
        time.sleep(0.2)
    if _alive(running.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(running.pid, signal.SIGKILL)
    try:
        data = running.path.read_bytes()[: running.max_bytes]
        said = running.errors.read_text(errors="replace").strip() if running.errors.exists() else ""
    except OSError as exc:
        raise EngineError(f"the capture's file is gone: {exc}") from None
    finally:
        for leftover in (running.path, running.errors, running.record):
            leftover.unlink(missing_ok=True)
        _reap_later(None)
    if not data:
        raise EngineError(f"tcpdump: {said.splitlines()[-1] if said else 'no output'}")
    return data


def end(running: Running) -> None:
    """End a capture before its time, as its time would: tcpdump is interrupted and writes out
    what it caught, which `collect` then reads."""
    for pid in _session(running.pid):
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() == "tcpdump":
                os.kill(pid, signal.SIGINT)
        except (OSError, ProcessLookupError):
            continue


def _session(sid: int) -> list[int]:
    """The processes of a session (a capture's pipeline)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and fields[3] == str(sid):
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Whether the capture's session still has its leader (a zombie has ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


_started: list[subprocess.Popen[bytes]] = []


def _reap_later(proc: subprocess.Popen[bytes] | None) -> None:
    """Keep the handle of a capture started here, so that it is reaped (not left a zombie)
    once it ends: each start and each collection reaps those that have."""
    if proc is not None:
        _started.append(proc)
    for earlier in list(_started):
        if earlier.poll() is not None:
            _started.remove(earlier)
