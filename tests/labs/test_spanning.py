"""Labs spanning lab hosts, on the web side: a deploy per part, the lab's status from all of them,
VNIs handed out and freed, pins checked, jobs sent to the node's lab host, lost parts."""

from datetime import timedelta

import pytest
import yaml
from django.utils import timezone

from labs import controls, fleet, lifecycle, stitching
from labs.hostside.lifecycle import _finish
from labs.labfiles import import_lab
from labs.models import Capture, Lab, LabStatus, Operation, StitchVni
from tests.labs.test_fleet import host
from topology.problems import TopologyError
from topology.spec import LabHostSpec

ROUTED = """
name: {name}
placement: {{labhost: a}}
networks:
  lan1: {{kind: segment, subnet: 198.18.1.0/24}}
  lan2: {{kind: segment, subnet: 198.18.2.0/24}}
nodes:
  r1: {{kind: router, interfaces: {{eth0: {{network: lan1}}, eth1: {{network: lan2}}}}}}
  h1: {{kind: host, interfaces: {{eth0: {{network: lan1}}}}}}
  h2: {{kind: host, interfaces: {{eth0: {{network: lan2}}}}, placement: {{labhost: {pin}}}}}
  h3: {{kind: host, placement: {{labhost: {pin}}}}}
links:
  - endpoints: [h1:eth1, h3:eth0]
"""


@pytest.fixture(autouse=True)
def two_hosts(db, settings):
    settings.WIRELAB_QUOTA_RUNNING_LABS, settings.WIRELAB_QUOTA_NODES = 100, 1000
    host("a", underlay="192.0.2.1")
    host("b", underlay="192.0.2.2")


def spanning_lab(user, name: str = "span", pin: str = "b") -> Lab:
    return import_lab(ROUTED.format(name=name, pin=pin), user)[0]


def deploy(lab: Lab, user) -> tuple[Operation, Operation]:
    op = lifecycle.request_deploy(lab, user, enqueue=False)
    [part] = Operation.objects.filter(id__in=op.params["parts"])
    return op, part


def finish(op: Operation, status: str, lab_status: str, reason: str = "") -> None:
    op.refresh_from_db()
    _finish(op, status, lab_status, reason, error=reason if status == Operation.Status.FAILED else "")


def test_a_lab_pinning_hosts_elsewhere_gets_a_deploy_per_lab_host_with_its_segments_stitched(user):
    lab = spanning_lab(user)
    op, part = deploy(lab, user)
    lab.refresh_from_db()
    assert (op.labhost, part.labhost, part.params) == ("a", "b", {"part_of": op.id})
    assert lab.parts == {"b": {"containers": 2, "nodes": ["h2", "h3"]}} and lab.containers == 2
    assert lab.host_of("h3") == "b" and lab.host_of("r1") == "a" and lab.labhosts == ["a", "b"]
    mine, theirs = LabHostSpec.from_dict(op.spec), LabHostSpec.from_dict(part.spec)
    assert {s.name for s in mine.sandboxes} == {"r1", "h1"} and theirs.part == "b"
    # lan2 and the cable h1 -- h3 span a and b: a stitch each, on both sides, with the same VNI
    assert len(mine.stitches) == len(theirs.stitches) == 2
    vnis = {s.bridge: s.vni for s in mine.stitches}
    assert vnis == {s.bridge: s.vni for s in theirs.stitches}
    assert set(vnis.values()) == set(StitchVni.objects.filter(lab=lab).values_list("number", flat=True))
    assert {s.local for s in theirs.stitches} == {"192.0.2.2"} and theirs.stitches[0].peers == ["192.0.2.1"]


def test_the_lab_runs_once_every_part_did_and_fails_with_the_parts_reason_taking_the_others_back(user):
    lab = spanning_lab(user)
    op, part = deploy(lab, user)
    finish(op, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    assert Lab.objects.get(id=lab.id).status == LabStatus.DEPLOYING  # b's part is not done yet
    finish(part, Operation.Status.SUCCEEDED, LabStatus.DEGRADED, "h3: exited")
    assert (Lab.objects.get(id=lab.id).status, Lab.objects.get(id=lab.id).status_reason) == (
        LabStatus.DEGRADED,
        "b: h3: exited",
    )

    # an edit deployed again: b's part fails, a's is taken back to the deploy that worked before
    again, part = deploy(Lab.objects.get(id=lab.id), user)
    finish(part, Operation.Status.FAILED, LabStatus.FAILED, "creating the stitch: File exists")
    finish(again, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    failed = Lab.objects.get(id=lab.id)
    assert (failed.status, failed.status_reason) == (LabStatus.FAILED, "b: creating the stitch: File exists")
    [undo] = Operation.objects.filter(params__undo_of=again.id)
    assert undo.labhost == "a" and undo.spec == op.spec
    finish(undo, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    assert Lab.objects.get(id=lab.id).status == LabStatus.FAILED  # taking back sets no status


def test_destroying_a_spanning_lab_destroys_every_part_then_frees_its_vnis(user):
    lab = spanning_lab(user)
    op, part = deploy(lab, user)
    for each in (op, part):
        finish(each, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    assert StitchVni.objects.filter(lab=lab).count() == 2
    destroy = lifecycle.request_destroy(Lab.objects.get(id=lab.id), user, enqueue=False)
    [other] = Operation.objects.filter(id__in=destroy.params["parts"])
    assert (destroy.labhost, other.labhost, other.spec["labhost"]) == ("a", "b", "b")
    finish(destroy, Operation.Status.SUCCEEDED, LabStatus.STOPPED)
    assert StitchVni.objects.filter(lab=lab).count() == 2  # b still holds its tunnels
    finish(other, Operation.Status.SUCCEEDED, LabStatus.STOPPED)
    stopped = Lab.objects.get(id=lab.id)
    assert (stopped.status, stopped.parts) == (LabStatus.STOPPED, {})
    assert not StitchVni.objects.filter(lab=lab).exists()


def test_vnis_are_never_shared_kept_across_redeploys_and_an_old_tags_freed_after_its_grace(user):
    first, second = spanning_lab(user, "one"), spanning_lab(user, "two")
    op1, _ = deploy(first, user)
    deploy(second, user)
    numbers = list(StitchVni.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 4 and min(numbers) >= stitching.VNI_FIRST
    ours = {s["bridge"]: s["vni"] for s in op1.spec["stitches"]}
    assert stitching.underlay_for(Lab.objects.get(id=first.id)).vni(next(iter(ours))) in ours.values()

    fleet.retag(first)  # moved: the old tag's VNIs wait for the old parts to be collected
    first.save(update_fields=["tag"])
    assert stitching.release_old() == 0
    StitchVni.objects.filter(lab=first).update(created=timezone.now() - timedelta(hours=2))
    assert stitching.release_old() == 2
    assert StitchVni.objects.count() == 2


def test_a_pin_to_a_lab_host_that_cannot_take_it_is_refused_naming_the_node(user):
    with pytest.raises(
        lifecycle.OperationRefused, match=r"nodes\.h2\.placement\.labhost: there is no lab host named 'c'"
    ):
        lifecycle.request_deploy(spanning_lab(user, "nowhere", pin="c"), user, enqueue=False)
    host("d")  # registered, but never said where other lab hosts reach it
    with pytest.raises(TopologyError) as refused:
        lifecycle.request_deploy(spanning_lab(user, "unreachable", pin="d"), user, enqueue=False)
    assert {p.path for p in refused.value.problems} == {
        "nodes.h2.placement.labhost",
        "nodes.h3.placement.labhost",
    }
    assert not Operation.objects.exists() and not StitchVni.objects.exists()


def test_jobs_go_to_the_lab_host_of_their_node_and_a_cable_across_two_to_both(user):
    lab = spanning_lab(user)
    for each in deploy(lab, user):
        finish(each, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    lab = Lab.objects.get(id=lab.id)
    assert controls.request_exec(lab, "h3", ["true"], user=user).labhost == "b"
    assert controls.request_nat(lab, "h1", user=user).labhost == "a"
    traced = controls.request_trace(lab, "h3", {"target": "h1", "protocol": "icmp"}, user=user)
    assert traced.labhost == "b" and traced.params == {"node": "h3", "target": "h1", "protocol": "icmp"}
    pulled = controls.request_cable(lab, [("h1", "eth1"), ("h3", "eth0")], False, user)
    jobs = Operation.objects.filter(kind=Operation.Kind.CABLE).order_by("id")
    assert pulled == jobs[0] and [(j.labhost, j.params["ends"]) for j in jobs] == [
        ("a", [["h1", "eth1"]]),
        ("b", [["h3", "eth0"]]),
    ]
    capture = controls.request_capture(lab, "h2", "eth0", 1, 1000)
    assert Capture.objects.get(id=capture.id).node == "h2"


def test_a_lost_lab_host_makes_the_labs_with_a_part_there_lost_and_its_parts_count_against_it(user, settings):
    lab = spanning_lab(user)
    for each in deploy(lab, user):
        finish(each, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    assert fleet.usage(["a", "b"]) == {"a": (1, 2), "b": (1, 2)}
    from labs.models import LabHost

    LabHost.objects.filter(name="b").update(last_heartbeat=timezone.now() - timedelta(minutes=5))
    assert fleet.sweep() == ["b"]
    lost = Lab.objects.get(id=lab.id)
    assert lost.status == LabStatus.LOST and lost.status_reason.startswith("lab host b lost")
    assert [x.id for x in fleet.lost_labs("b")] == [lab.id]
    with pytest.raises(lifecycle.OperationRefused, match="lab host b is lost"):
        lifecycle.request_job(lost, "exec", {"node": "h1", "command": ["true"]}, user)
    lifecycle.request_destroy(lost, user, enqueue=False)  # stopped here: its parts are orphans now
    stopped = Lab.objects.get(id=lab.id)
    assert (stopped.status, stopped.parts) == (LabStatus.STOPPED, {}) and stopped.tag != lost.tag


def test_an_edit_that_brings_every_node_home_empties_the_other_lab_hosts_part(user):
    lab = spanning_lab(user)
    for each in deploy(lab, user):
        finish(each, Operation.Status.SUCCEEDED, LabStatus.RUNNING)
    data = yaml.safe_load(ROUTED.format(name="span", pin="b"))
    for node in data["nodes"].values():
        node.pop("placement", None)
    Lab.objects.filter(id=lab.id).update(
        document={**Lab.objects.get(id=lab.id).document, "nodes": data["nodes"]}
    )
    op, part = deploy(Lab.objects.get(id=lab.id), user)
    assert part.labhost == "b" and LabHostSpec.from_dict(part.spec).node_names() == []
    assert Lab.objects.get(id=lab.id).parts == {}
    assert {s.name for s in LabHostSpec.from_dict(op.spec).sandboxes} == {"r1", "h1", "h2", "h3"}


def test_the_api_says_where_each_node_runs_and_what_is_stitched_over_which_mtu(user, client):
    lab = spanning_lab(user)
    op, _ = deploy(lab, user)
    client.force_login(user)
    spans = client.get(f"/api/labs/{lab.id}/").json()["spans"]
    assert spans["labhosts"] == {"r1": "a", "h1": "a", "h2": "b", "h3": "b"}
    vnis = {s["segment"]: s["vni"] for s in op.spec["stitches"]}
    assert spans["stitches"] == [
        {
            "segment": "h1:eth1 -- h3:eth0",
            "vni": vnis["h1:eth1 -- h3:eth0"],
            "mtu": 1450,
            "labhosts": ["a", "b"],
        },
        {"segment": "lan2", "vni": vnis["lan2"], "mtu": 1450, "labhosts": ["a", "b"]},
    ]
    alone = import_lab(ROUTED.format(name="alone", pin="a"), user)[0]
    assert client.get(f"/api/labs/{alone.id}/").json()["spans"] == {}
