"""Waiting for a condition with a generous ceiling (never asserting how fast it came)."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float, what: str):
    """The first truthy value of `predicate()`, asked every 0.1 s; fails after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")
