"""The life cycle on the Django side, with the real engine: operations, statuses and the API.
(Workers killed or cut off in the middle are in test_faults.)"""

import pytest

from labs import controls, lifecycle
from labs.hostside.jobs import carry_out
from labs.labfiles import import_lab
from labs.models import Lab, Operation
from tests.labs.workers import star
from tests.worker.conftest import leftovers
from topology.problems import TopologyError

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


def test_deploy_and_destroy_in_process(user, demo_text, labs_made):
    lab, _ = import_lab(demo_text("docker-modes"), user)
    labs_made.append(lab)
    op = lifecycle.request_deploy(lab, user, enqueue=False)
    assert Lab.objects.get(id=lab.id).status == "deploying"
    lines = []
    op = carry_out(op.id, progress=lines.append)
    lab.refresh_from_db()
    assert op.status == "succeeded" and op.started and op.finished
    assert lab.status == "degraded"
    assert "nginx-1b" in lab.status_reason and "Address already in use" in lab.status_reason
    assert op.result["nodes"]["nginx-2"]["state"] == "running"
    assert "started 7/7" in op.log and lines[-1].startswith("done:")

    again = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    assert again.result["changes"] == []

    gone = carry_out(lifecycle.request_destroy(lab, user, enqueue=False).id)
    lab.refresh_from_db()
    assert (gone.status, lab.status) == ("succeeded", "stopped")
    assert leftovers(lab.tag) == []


def test_a_lab_with_errors_is_not_deployed(user, labs_made):
    lab, _ = import_lab(star(2, "err"), user)
    labs_made.append(lab)
    lab.document["nodes"]["h1"]["kind"] = "container"  # stored before a rule it now breaks
    lab.save(update_fields=["document"])
    with pytest.raises(TopologyError):
        lifecycle.request_deploy(lab, user, enqueue=False)
    assert not Operation.objects.filter(lab=lab).exists()


def test_a_failed_deploy_is_undone_and_says_why(user, labs_made):
    lab, _ = import_lab(star(2, "img"), user)
    labs_made.append(lab)
    lab.document["nodes"]["h1"]["image"] = "wirelab/nope:0"
    lab.save(update_fields=["document"])
    op = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    lab.refresh_from_db()
    assert op.status == "failed"
    assert "wirelab/nope:0 is not on lab host local" in op.error
    assert lab.status == "failed" and "wirelab/nope:0" in lab.status_reason
    assert leftovers(lab.tag) == []


def test_api_deploy_destroy_and_operations(api, user, labs_made, settings):
    lab, _ = import_lab(star(2, "api"), user)
    labs_made.append(lab)
    response = api.post(f"/api/labs/{lab.id}/deploy/")
    assert response.status_code == 202
    op_id = response.json()["id"]
    assert api.post(f"/api/labs/{lab.id}/deploy/").status_code == 409  # busy
    carry_out(op_id)
    assert api.delete(f"/api/labs/{lab.id}/").status_code == 409  # running: destroy first
    ops = api.get(f"/api/labs/{lab.id}/operations/").json()
    assert [(o["kind"], o["status"]) for o in ops] == [("deploy", "succeeded")]
    destroy_op = api.post(f"/api/labs/{lab.id}/destroy/").json()
    carry_out(destroy_op["id"])
    assert api.get(f"/api/labs/{lab.id}/").json()["status"] == "stopped"
    assert api.delete(f"/api/labs/{lab.id}/").status_code == 204


def test_what_a_deleted_lab_left_is_collected_periodically_and_nothing_else(user, labs_made):
    from labs.hostside.housekeeping import collect_orphans, every
    from tests.waiting import wait_for

    kept, _ = import_lab(star(2, "kept"), user)
    gone, _ = import_lab(star(2, "gone"), user)
    labs_made.extend([kept, gone])
    for lab in (kept, gone):
        assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    Lab.objects.filter(id=gone.id).delete()  # as if deleted while its lab host was away
    stop = every(0.5, collect_orphans, "gc")
    try:
        wait_for(lambda: leftovers(gone.tag) == [], 60, "the deleted lab's containers to be collected")
    finally:
        stop.set()
    assert len(leftovers(kept.tag)) == 3  # two hosts and the fabric namespace


def test_a_deploy_past_its_deadline_fails_and_is_undone(user, labs_made, settings):
    lab, _ = import_lab(star(3, "late"), user)
    labs_made.append(lab)
    settings.WIRELAB_OPERATION_DEADLINE = 0
    op = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    lab.refresh_from_db()
    assert op.status == "failed" and "took longer than 0 s" in op.error
    assert "undoing the partial deploy" in op.log
    assert lab.status == "failed"
    assert leftovers(lab.tag) == []


def test_a_node_that_fills_its_filesystem_is_stopped_and_the_lab_says_why(user, labs_made, settings):
    from labs.hostside.housekeeping import stop_disk_hogs
    from labs.models import LabEvent
    from tests.labs.workers import containers_of

    lab, _ = import_lab(star(2, "disk"), user)
    labs_made.append(lab)
    assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
    settings.WIRELAB_NODE_DISK_LIMIT_MB = 8
    assert stop_disk_hogs() == []
    done = carry_out(
        controls.request_exec(lab, "h1", ["dd", "if=/dev/zero", "of=/big", "bs=1M", "count=12"]).id
    )
    assert done.result["exit_code"] == 0, done.result
    told = stop_disk_hogs()
    assert len(told) == 1 and told[0].startswith("h1 wrote 12 MiB") and "more than the 8 MiB" in told[0]
    assert containers_of(lab.tag) == {"h0": "running", "h1": "exited"}
    lab.refresh_from_db()
    assert lab.status == "degraded" and lab.status_reason == told[0]
    assert LabEvent.objects.filter(lab=lab, kind="error", message=told[0]).exists()


def test_a_user_whose_nodes_write_too_much_in_all_loses_their_biggest_writer(user, labs_made, settings):
    """Each node under its own limit, but one user's nodes past theirs together: the node that
    wrote the most is stopped, and what stays under the limit runs on."""
    from labs.hostside.housekeeping import stop_disk_hogs
    from tests.labs.workers import containers_of

    labs = []
    for name, megabytes in (("disk-a", 14), ("disk-b", 10)):
        lab, _ = import_lab(star(1, name), user)
        labs_made.append(lab)
        assert carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id).status == "succeeded"
        written = ["dd", "if=/dev/zero", "of=/big", "bs=1M", f"count={megabytes}"]
        assert carry_out(controls.request_exec(lab, "h0", written).id).result["exit_code"] == 0
        labs.append(lab)
    settings.WIRELAB_NODE_DISK_LIMIT_MB, settings.WIRELAB_USER_DISK_LIMIT_MB = 16, 20
    (told,) = stop_disk_hogs()
    assert told.startswith(f"h0 wrote the most of {user.username}'s nodes, which wrote 24 MiB in all"), told
    assert "more than the 20 MiB one user's nodes may" in told
    assert containers_of(labs[0].tag) == {"h0": "exited"} and containers_of(labs[1].tag) == {"h0": "running"}
    assert stop_disk_hogs() == []  # under the limit now
