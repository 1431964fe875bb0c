"""This lab host in the fleet (`labs.fleet`): registered when its worker starts, with a
heartbeat while it runs. Each lab host's heartbeat also does the fleet's upkeep (marking lab
hosts that went silent lost, placing deploys that wait for room), so it goes on while any
lab host lives."""

from __future__ import annotations

import logging
import subprocess
import threading
from functools import cache
from pathlib import Path

from django.conf import settings
from django.db import connection

from topology.spec import SPEC_VERSION

from .. import fleet, lifecycle
from .engine import this_labhost
from .housekeeping import collect_orphans, every

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


def come_up() -> None:
    """Register, and restore the labs this lab host held when it was found lost (converging
    them from their stored documents; evacuated ones carry new tags and are not among them)."""
    name = settings.WIRELAB_LABHOST
    try:
        engine = this_labhost().runtime().version()
    except Exception as exc:  # registered all the same: the monitor's health check says what is wrong
        log.warning("lab host %s: no Docker engine version: %s", name, exc)
        engine = "unknown"
    version = f"wirelab {source_version()} (spec {SPEC_VERSION}), docker {engine}"
    plugins = this_labhost().cni_plugins()
    fleet.register(
        name,
        settings.WIRELAB_UNDERLAY,
        settings.WIRELAB_LABHOST_CONTAINERS,
        memory_mb(),
        version,
        cni_plugins=plugins,
    )
    for lab in fleet.lost_labs(name):
        try:
            lifecycle.request_deploy(lab, lab.owner, placing="stay")
            log.warning("lab host %s is back: restoring lab %s", name, lab.slug)
        except lifecycle.OperationRefused as exc:
            log.warning("could not restore lab %s: %s", lab.slug, exc)


def heartbeat() -> None:
    """Alive as long as the worker is (a Docker engine away shows in /health/, not as a lost host),
    with what it runs and the warm sandboxes it has ready (a prepared class waits for them)."""
    labhost, warm = this_labhost(), None
    try:
        running = len(labhost.runtime().list_containers(running=True))
        warm = labhost.warm_status(settings.WIRELAB_POOL, settings.WIRELAB_POOL_MAX)
    except Exception as exc:
        log.warning("could not count this lab host's containers: %s", exc)
        running = None
    if not fleet.beat(settings.WIRELAB_LABHOST, running, memory_mb("MemAvailable"), warm):
        come_up()  # back after being found lost (or its record was deleted): its labs are restored
    fleet.sweep()
    lifecycle.place_waiting()


def start_presence() -> threading.Event | None:
    come_up()
    threading.Thread(target=_collect_once, name="wirelab-first-gc", daemon=True).start()
    return every(settings.WIRELAB_HEARTBEAT_SECONDS, heartbeat, "heartbeat")


def _collect_once() -> None:
    """What this lab host holds for labs that moved away while it was gone (or were deleted)
    goes at once, not at the first periodic collection."""
    try:
        if removed := collect_orphans(progress=log.info):
            log.warning("removed what %d lab(s) left here: %s", len(removed), removed)
    except Exception:
        log.exception("the first garbage collection failed")
    finally:
        connection.close()


def memory_mb(field: str = "MemTotal") -> int:
    """The machine's memory (or another /proc/meminfo field, e.g. MemAvailable) in MiB."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


@cache
def source_version() -> str:
    try:
        command = ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]
        done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"
