"""A lab's status in its live state (real Redis): a stopped lab's state is forgotten, but its
sequence numbers go on, so every open view takes the stop instead of dropping it as old."""

import uuid

import pytest

from labs.live import state as live

pytestmark = pytest.mark.kernel


def test_a_stop_clears_the_live_state_and_its_number_follows_the_last_one():
    tag = f"test-{uuid.uuid4().hex[:8]}"
    try:
        for n in range(5):
            live.publish_now(tag, [{"type": "node.state", "node": f"n{n}", "state": "running"}])
        assert live.snapshot(tag)["seq"] == 5
        live.publish_status(tag, "stopped", "", "tina")
        after = live.snapshot(tag)
        assert after["seq"] == 6  # a view at 5 takes it
        assert after["nodes"] == {}
        assert after["lab"] == {"type": "lab.status", "status": "stopped", "reason": "", "by": "tina"}
    finally:
        live.clear(tag)
        live._client().delete(live.state_key(tag))
