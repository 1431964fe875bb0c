"""Lab hosts as a fleet, on the web side: placement (pins, cordons, capacity, spread or pack,
the wait for room), lost lab hosts and their labs, moving labs under a new tag, the admin."""

from datetime import timedelta

import pytest
from django.utils import timezone

from labs import fleet, labhost_actions, lifecycle
from labs.labfiles import import_lab
from labs.models import Lab, LabHost, LabStatus, Operation
from tests.labs.live_helpers import connect
from topology.document import document_to_data, parse_document
from topology.problems import TopologyError
from topology.validation import validate

STAR = "name: {name}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.0.0/24}}\nnodes:\n{hosts}{extra}"


@pytest.fixture(autouse=True)
def roomy_quotas(settings):
    settings.WIRELAB_QUOTA_RUNNING_LABS, settings.WIRELAB_QUOTA_NODES = 100, 1000


def star(n: int, name: str, extra: str = "") -> str:
    hosts = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return STAR.format(name=name, hosts=hosts, extra=extra)


def host(name: str, capacity: int = 100, **fields) -> LabHost:
    fields.setdefault("last_heartbeat", timezone.now())
    return LabHost.objects.create(name=name, capacity_containers=capacity, **fields)


def new_lab(user, n: int, name: str, extra: str = "") -> Lab:
    return import_lab(star(n, name, extra), user)[0]


def running_on(user, labhost: str, n: int, name: str) -> Lab:
    lab = new_lab(user, n, name)
    Lab.objects.filter(id=lab.id).update(labhost=labhost, status=LabStatus.RUNNING, containers=n)
    lab.refresh_from_db()
    return lab


def deploy(lab: Lab, user, **kw) -> Operation:
    return lifecycle.request_deploy(lab, user, enqueue=False, **kw)


def test_with_no_lab_host_registered_a_lab_stays_where_it_is(user):
    lab = new_lab(user, 2, "alone")
    op = deploy(lab, user)
    assert op.labhost == lab.labhost == "local"


def test_spread_takes_the_least_loaded_and_pack_the_fullest_that_fits(user, settings):
    host("a"), host("b")
    running_on(user, "a", 10, "busy")
    assert deploy(new_lab(user, 2, "one"), user).labhost == "b"
    settings.WIRELAB_PLACEMENT = "pack"
    assert deploy(new_lab(user, 2, "two"), user).labhost == "a"


def test_a_pin_in_the_document_decides_and_a_bad_pin_is_a_clear_refusal(user):
    host("a"), host("b"), host("c", state=LabHost.State.CORDONED)
    lab = new_lab(user, 2, "pinned", "placement: {labhost: a}\n")
    running_on(user, "a", 50, "busy")
    assert deploy(lab, user).labhost == "a"
    for pin, says in [("nowhere", "there is no lab host named 'nowhere'"), ("c", "is cordoned")]:
        other = new_lab(user, 1, f"pin-{pin}", f"placement: {{labhost: {pin}}}\n")
        with pytest.raises(lifecycle.OperationRefused, match=says) as refused:
            deploy(other, user)
        assert str(refused.value).startswith("placement.labhost: ")
        assert Lab.objects.get(id=other.id).status == LabStatus.DRAFT  # nothing half done


def test_the_document_keeps_its_pin_and_validation_names_a_bad_one():
    doc = parse_document({"name": "x", "placement": {"labhost": "lab-2"}})
    assert document_to_data(doc)["placement"] == {"labhost": "lab-2"}
    with pytest.raises(TopologyError) as bad:
        validate(parse_document({"name": "x", "placement": {"labhost": "Not A Name!"}}))
    assert any(p.path == "placement.labhost" for p in bad.value.problems)


def test_cordoned_draining_and_silent_lab_hosts_take_no_new_labs(user):
    host("a", state=LabHost.State.CORDONED), host("b", state=LabHost.State.DRAINING)
    host("c", last_heartbeat=timezone.now() - timedelta(hours=1))
    host("d")
    assert deploy(new_lab(user, 1, "x"), user).labhost == "d"
    LabHost.objects.filter(name="d").update(state=LabHost.State.CORDONED)
    with pytest.raises(lifecycle.OperationRefused, match="every one is cordoned, draining or lost"):
        deploy(new_lab(user, 1, "y"), user)


def test_a_lab_too_big_for_any_lab_host_is_refused_and_one_that_does_not_fit_yet_waits(user):
    host("a", capacity=6), host("b", capacity=6)
    with pytest.raises(
        lifecycle.OperationRefused, match="needs 7 containers and the largest lab host holds 6"
    ):
        deploy(new_lab(user, 7, "huge"), user)
    first, second = running_on(user, "a", 5, "first"), running_on(user, "b", 5, "second")
    waiting = new_lab(user, 3, "waiting")
    Lab.objects.filter(id=waiting.id).update(labhost="b", status=LabStatus.STOPPED)  # was on b before
    op = deploy(waiting, user)
    waiting.refresh_from_db()
    assert op.labhost == fleet.UNPLACED and op.status == Operation.Status.QUEUED
    assert (waiting.status, waiting.status_reason) == (
        LabStatus.DEPLOYING,
        "waiting for room on a lab host (next)",
    )
    later = deploy(new_lab(user, 1, "later"), user)  # fits, but waits behind the older one
    assert later.labhost == fleet.UNPLACED
    assert lifecycle.queue_position(waiting) == 0 and lifecycle.queue_position(later.lab) == 1
    assert lifecycle.place_waiting() == 0
    assert Lab.objects.get(id=later.lab_id).status_reason == "waiting for room on a lab host (1 ahead)"
    Lab.objects.filter(id=waiting.id).update(status_reason="stale")
    lifecycle.place_waiting()
    assert (
        Lab.objects.get(id=waiting.id).status_reason == "waiting for room on a lab host (next)"
    )  # told again
    Lab.objects.filter(id=second.id).update(status=LabStatus.STOPPED)
    assert lifecycle.place_waiting() == 2
    op.refresh_from_db()
    waiting.refresh_from_db()
    assert op.labhost == waiting.labhost == "b" and op.spec["labhost"] == "b"
    assert op.spec["lab"] == waiting.tag and waiting.status_reason == "queued"  # b again: same tag
    assert first.labhost == "a"


def test_a_running_lab_is_not_moved_by_a_redeploy(user):
    host("a"), host("b")
    lab = running_on(user, "a", 3, "stays")
    assert deploy(lab, user).labhost == "a"
    assert Lab.objects.get(id=lab.id).tag == lab.tag


def test_a_silent_lab_host_is_lost_with_its_labs_and_unfinished_jobs(user, settings):
    settings.WIRELAB_LABHOST_LOST_SECONDS = 30
    host("a"), host("b", last_heartbeat=timezone.now() - timedelta(seconds=31))
    lab, stopped = running_on(user, "b", 2, "there"), new_lab(user, 1, "stopped")
    Lab.objects.filter(id=stopped.id).update(labhost="b", status=LabStatus.STOPPED)
    job = lifecycle.request_job(lab, "exec", {"node": "h0", "command": ["true"]}, user, enqueue=False)
    assert fleet.sweep() == ["b"]
    assert fleet.sweep() == []  # once
    lab.refresh_from_db()
    assert lab.status == LabStatus.LOST and lab.status_reason.startswith(
        "lab host b lost: no heartbeat since"
    )
    assert Lab.objects.get(id=stopped.id).status == LabStatus.STOPPED
    job.refresh_from_db()
    assert job.status == Operation.Status.FAILED and "lab host b lost" in job.error
    assert LabHost.objects.get(name="b").lost
    with pytest.raises(
        lifecycle.OperationRefused, match="lab host b is lost: deploy the lab again to run it on another"
    ):
        lifecycle.request_job(lab, "exec", {"node": "h0", "command": ["true"]}, user, enqueue=False)


def test_a_lost_lab_redeployed_moves_under_a_new_tag_and_a_returning_host_restores_the_rest(user):
    host("a"), host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
    moving, staying = running_on(user, "b", 2, "moving"), running_on(user, "b", 2, "staying")
    fleet.sweep()
    op = deploy(moving, user)
    moving_now = Lab.objects.get(id=moving.id)
    assert op.labhost == moving_now.labhost == "a"
    assert moving_now.tag != moving.tag and op.spec["lab"] == moving_now.tag
    fleet.register("b", "198.19.0.2", 100, 1024, "test")
    assert not LabHost.objects.get(name="b").lost
    assert [lab.slug for lab in fleet.lost_labs("b")] == [staying.slug]
    back = deploy(staying, user, placing="stay")
    assert back.labhost == "b" and back.spec["lab"] == staying.tag


def test_destroying_a_lab_on_a_lost_host_stops_it_at_once_under_a_new_tag(user):
    host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
    lab = running_on(user, "b", 2, "gone")
    fleet.sweep()
    op = lifecycle.request_destroy(lab, user, enqueue=False)
    after = Lab.objects.get(id=lab.id)
    assert op.status == Operation.Status.SUCCEEDED and "lab host b is lost" in op.log
    assert after.status == LabStatus.STOPPED and after.tag != lab.tag


def test_destroying_a_lab_that_waits_for_room_ends_its_wait(user):
    host("a", capacity=2)
    running_on(user, "a", 2, "full")
    lab = new_lab(user, 2, "waits")
    waiting = deploy(lab, user)
    lifecycle.request_destroy(lab, user, enqueue=False)
    waiting.refresh_from_db()
    assert (
        waiting.status == Operation.Status.FAILED and Lab.objects.get(id=lab.id).status == LabStatus.STOPPED
    )
    assert lifecycle.place_waiting() == 0


def test_draining_moves_the_running_labs_and_evacuating_the_lost_ones(user):
    host("a"), host("b")
    running, idle = running_on(user, "a", 2, "running"), new_lab(user, 1, "idle")
    Lab.objects.filter(id=idle.id).update(labhost="a", status=LabStatus.STOPPED)
    said = labhost_actions.drain(LabHost.objects.get(name="a"))
    assert said == [f"{running.slug} goes to b"]
    assert LabHost.objects.get(name="a").state == LabHost.State.DRAINING
    moved = Lab.objects.get(id=running.id)
    assert moved.labhost == "b" and moved.tag != running.tag
    assert Lab.objects.get(id=idle.id).labhost == "a"
    LabHost.objects.filter(name="b").update(last_heartbeat=timezone.now() - timedelta(hours=1))
    LabHost.objects.filter(name="a").update(state=LabHost.State.ACTIVE)
    Operation.objects.filter(lab=moved).update(status=Operation.Status.SUCCEEDED)
    Lab.objects.filter(id=moved.id).update(status=LabStatus.RUNNING)
    fleet.sweep()
    assert labhost_actions.evacuate(LabHost.objects.get(name="b")) == [f"{running.slug} goes to a"]
    assert Lab.objects.get(id=running.id).labhost == "a"


def test_the_admin_lists_lab_hosts_with_their_load_and_acts_on_them(admin_client, user):
    host("a", capacity=50), host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
    running_on(user, "a", 4, "load")
    page = admin_client.get("/admin/labs/labhost/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "4 / 0 / 50" in text and "Cordon" in text and "Evacuate" in text
    assert LabHost.objects.get(name="b").lost  # the list itself marks silent lab hosts
    a = LabHost.objects.get(name="a")
    admin_client.post("/admin/labs/labhost/", {"action": "cordon", "_selected_action": [a.id]})
    assert LabHost.objects.get(name="a").state == LabHost.State.CORDONED
    for model in ("lab", "operation", "labevent", "labhost"):
        assert (
            admin_client.get(
                f"/admin/labs/{model}/" if model != "lab" else "/admin/topology/lab/"
            ).status_code
            == 200
        )


@pytest.mark.kernel  # the snapshot on connect is read from Redis
@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_a_lab_that_moves_closes_its_sockets_so_they_join_its_new_tag(settings):
    from asgiref.sync import sync_to_async
    from django.contrib.auth import get_user_model
    from django.db import transaction

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

    def prepare():
        owner = get_user_model().objects.create_user("mover")
        host("a"), host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
        return owner, running_on(owner, "b", 1, "mover")

    def move(lab):
        fleet.sweep()
        with transaction.atomic():
            deploy(Lab.objects.get(id=lab.id), lab.owner)
        return Lab.objects.get(id=lab.id).tag

    owner, lab = await sync_to_async(prepare)()
    socket = await connect(f"/ws/labs/{lab.id}/", owner)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from(timeout=10))["type"] == "snapshot"
    new_uid = await sync_to_async(move)(lab)
    assert new_uid != lab.tag
    while (message := await socket.receive_output(timeout=10))["type"] != "websocket.close":
        pass  # the lost status first
    assert message["code"] == 4301


def test_every_model_of_the_project_is_in_the_admin(admin_client):
    from django.apps import apps
    from django.contrib import admin

    ours = [m for m in apps.get_models() if m._meta.app_label in ("labs", "topology", "classroom")]
    assert [m.__name__ for m in ours if m not in admin.site._registry] == []
    for model in ours:
        page = admin_client.get(f"/admin/{model._meta.app_label}/{model._meta.model_name}/")
        assert page.status_code == 200, model


def test_health_names_the_lab_hosts_an_admin_should_look_at(db):
    from labs.health import _fleet

    host("a"), host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
    host("c", state=LabHost.State.CORDONED)
    assert _fleet() == "; 3 registered (b lost, c cordoned)"


def test_the_labhost_command_lists_and_acts_and_refuses_bad_input(user):
    from io import StringIO

    from django.core.management import CommandError, call_command

    def run(*args) -> str:
        out = StringIO()
        call_command("labhost", *args, stdout=out)
        return out.getvalue()

    assert "no lab host has registered yet" in run("list")
    (
        host("a", capacity=40, underlay="198.19.0.1"),
        host("b", last_heartbeat=timezone.now() - timedelta(hours=1)),
    )
    running_on(user, "a", 3, "there")
    listing = run("list").splitlines()
    assert listing[1].split() == ["a", "active", "yes", "1", "3/40", "198.19.0.1"]
    assert listing[2].split()[:3] == ["b", "active", "no"]
    assert run("cordon", "a") == "lab host a takes no new labs\n"
    assert LabHost.objects.get(name="a").state == LabHost.State.CORDONED
    with pytest.raises(CommandError, match="there is no lab host named 'zz'"):
        run("drain", "zz")
    with pytest.raises(CommandError, match="lab host a is alive: drain it"):
        run("evacuate", "a")
    for args, says in [
        (["--name", "Bad Name"], "--name: 'Bad Name' is not a lab host name"),
        (
            ["--name", "ok", "--underlay", "not-an-address"],
            "--underlay: 'not-an-address' is not an IP address",
        ),
        (["--name", "ok", "--containers", "0"], "--containers: a lab host holds at least one container"),
    ]:
        with pytest.raises(CommandError, match=says):
            run("run", *args)


def test_a_lab_host_found_lost_while_alive_registers_again_at_its_next_heartbeat(user, settings):
    settings.WIRELAB_LABHOST = "b"
    host("b", last_heartbeat=timezone.now() - timedelta(hours=1))
    lab = running_on(user, "b", 2, "partitioned")
    fleet.sweep()
    assert not fleet.beat("b", 2)  # found lost meanwhile: a beat alone does not bring it back
    assert LabHost.objects.get(name="b").lost
    assert not fleet.beat("nobody", 0)
    fleet.register("b", None, 100, 1024, "test")
    assert fleet.beat("b", 2) and not LabHost.objects.get(name="b").lost
    assert fleet.lost_labs("b") == [Lab.objects.get(id=lab.id)]  # come_up restores them


def test_placement_counts_the_memory_a_lab_host_has_left(user, settings):
    """A lab host low on memory (its last heartbeat said so) takes no lab it cannot hold, even
    with container room; one that did not say is judged by containers alone."""
    settings.WIRELAB_MEMORY_PER_CONTAINER_MB, settings.WIRELAB_LABHOST_MEMORY_RESERVE_MB = 32, 512
    host("a", memory_free_mb=512 + 32 * 4), host("b", memory_free_mb=600)
    assert deploy(new_lab(user, 4, "fits-a"), user).labhost == "a"  # b has room for 2 only
    assert deploy(new_lab(user, 2, "fits-both"), user).labhost == "b"  # spread: b is emptier
    waiting = new_lab(user, 5, "too-big-now")
    op = deploy(waiting, user)
    assert op.status == "queued" and "waiting for room" in Lab.objects.get(id=waiting.id).status_reason
    assert fleet.beat("a", 4, memory_free_mb=8000)  # memory came back: the waiting lab goes there
    lifecycle.place_waiting()
    assert Operation.objects.get(id=op.id).labhost == "a"
    assert fleet.has_memory_for(LabHost(name="c"), 1000)  # one that never said
