"""Captures hold no worker: they run detached, so another job of the lab host (a trace, a
round of checks) is served while a user's captures are still catching packets; and a worker
killed meanwhile leaves them to be collected when it comes back."""

import pytest

from labs import controls, lifecycle
from labs.hostside.engine import this_labhost
from labs.hostside.jobs import carry_out
from labs.models import Capture, Operation
from tests.labs.workers import Worker, lab_on_own_queue
from tests.waiting import wait_for
from worker import capture

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]
LONG = 120  # seconds a capture would run: far longer than the test waits for anything else


def status(cap: Capture) -> str:
    return Capture.objects.get(id=cap.id).status


def end_early(cap: Capture) -> None:
    """End a capture before its time, as its own SIGINT at the end would."""
    running = this_labhost().capture_under_way(f"capture-{cap.id}")
    if running is not None:
        capture.end(running)


def test_a_trace_is_served_while_two_captures_run(user, labs_made, tmp_path, settings):
    lab, queue = lab_on_own_queue(user, labs_made, 2, "captures", settings)
    assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    lab.refresh_from_db()
    with Worker(queue, tmp_path / "worker.log") as worker:  # one thread serves every queue
        caps = [controls.request_capture(lab, f"h{i}", "eth0", LONG, 1_000_000) for i in range(2)]
        wait_for(lambda: all(status(c) == "running" for c in caps), 60, "both captures to start")
        trace = controls.request_trace(lab, "h0", {"target": "198.18.0.2", "protocol": "icmp"}, user=user)
        wait_for(lambda: Operation.objects.get(id=trace.id).done, 60, "the trace, beside the captures")
        assert Operation.objects.get(id=trace.id).status == "succeeded"
        assert [status(c) for c in caps] == ["running", "running"]  # still catching packets

        worker.restart()  # its collecting threads die with it; the next one picks them up
        for cap in caps:
            end_early(cap)
        wait_for(lambda: all(status(c) != "running" for c in caps), 60, "the captures to be collected")
    assert [(Capture.objects.get(id=c.id).status, Capture.objects.get(id=c.id).error) for c in caps] == [
        ("done", "")
    ] * 2
    assert all(
        Capture.objects.get(id=c.id).pcap[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4") for c in caps
    )
    assert not list((this_labhost().config.lock_dir / "captures").glob("capture-*"))
