"""A lab spanning two lab hosts, through the whole installation: two `labhost run` processes on
this machine, each with an underlay namespace of its own joined by a test bridge, the primer's
docker-modes lab with h2 pinned to the second. Deploy, the primer's paths, the underlay's VXLAN,
captures, consoles, cable pulls and live state on both lab hosts' nodes, destroy, and a lost
lab host."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import yaml
from asgiref.sync import async_to_sync
from django.db import connection

from labs import controls, fleet, lifecycle
from labs.labfiles import import_lab
from labs.models import Capture, Lab, LabStatus, Operation, StitchVni
from tests.conftest import DEMOS
from tests.labs.test_fleet_hosts import console_says, labhosts, link_up, marked
from tests.underlay import capture, make_underlay
from tests.waiting import wait_for
from tests.worker.test_engine import assert_docker_modes_matrix
from worker import fabric
from worker.report import NodeState

pytestmark = pytest.mark.kernel


@pytest.fixture
def spanning_labhosts(transactional_db, tmp_path, settings):
    if connection.vendor != "postgresql":
        pytest.fail("this test needs the PostgreSQL database that `make test` provides")
    settings.WIRELAB_LABHOST_LOST_SECONDS = 6
    underlay = make_underlay(["a", "b"])
    try:
        wanted = {host: (underlay.address[host], underlay.netns[host]) for host in ("a", "b")}
        with labhosts(tmp_path, wanted) as hosts:
            yield SimpleNamespace(underlay=underlay, **hosts)
    finally:
        underlay.remove()


def docker_modes_across(a: str, b: str) -> str:
    data = yaml.safe_load((DEMOS / "docker-modes.yaml").read_text())
    data["placement"] = {"labhost": a}
    data["nodes"]["h2"]["placement"] = {"labhost": b}
    return yaml.safe_dump(data)


def state(lab: Lab) -> str:
    return Lab.objects.get(id=lab.id).status


def done(job_id: int) -> Operation:
    wait_for(lambda: Operation.objects.get(id=job_id).done, 60, f"job #{job_id}")
    return Operation.objects.get(id=job_id)


def test_docker_modes_spanning_two_lab_hosts_through_the_installation(
    spanning_labhosts, user, run_in, client
):
    hosts = spanning_labhosts
    a, b, underlay = hosts.a, hosts.b, hosts.underlay
    wait_for(lambda: {h.name for h in fleet.alive()} >= {a.name, b.name}, 90, "both lab hosts to register")
    lab, _ = import_lab(docker_modes_across(a.name, b.name), user)

    deploy = lifecycle.request_deploy(lab, user)
    assert deploy.labhost == a.name and len(deploy.params["parts"]) == 1
    part = Operation.objects.get(id=deploy.params["parts"][0])
    assert part.labhost == b.name and part.params["part_of"] == deploy.id
    wait_for(lambda: state(lab) in (LabStatus.DEGRADED, LabStatus.FAILED), 180, "both parts to be deployed")
    lab.refresh_from_db()
    assert lab.status == LabStatus.DEGRADED  # nginx-1b's clash, as in the primer
    assert lab.status_reason.startswith(f"{a.name}: nginx-1b")
    assert sorted(lab.parts[b.name]["nodes"]) == ["app-2", "app-dyn", "h2", "nginx-3"]
    assert marked(b.config.mark) == {lab.tag: {"h2", "nginx-3", "app-dyn", "app-2"}}
    assert marked(a.config.mark)[lab.tag] >= {"h1", "client", "nginx-2", "app-1"}
    [vni] = StitchVni.objects.filter(lab=lab, tag=lab.tag)
    client.force_login(user)
    spans = client.get(f"/api/labs/{lab.id}/").json()["spans"]
    assert (
        spans["labhosts"]["h2"] == spans["labhosts"]["app-2"] == b.name and spans["labhosts"]["h1"] == a.name
    )
    assert spans["stitches"] == [
        {"segment": "lan", "vni": vni.number, "mtu": 1450, "labhosts": sorted([a.name, b.name])}
    ]

    # the primer's paths, h1 and h2 on two lab hosts
    nodes = {
        **Operation.objects.get(id=deploy.id).result["nodes"],
        **Operation.objects.get(id=part.id).result["nodes"],
    }
    report = SimpleNamespace(nodes={name: NodeState(**s) for name, s in nodes.items()})
    assert_docker_modes_matrix(run_in, SimpleNamespace(tag=lab.tag, report=report), overlay_mtu=1400)

    def ping() -> None:
        code, output = run_in(lab.tag, "app-1", "ping -c 2 -W 2 198.19.128.3")
        assert code == 0, output

    seen = capture(underlay, "b", 10, 2, ping)
    assert f"vni {vni.number}" in seen and "198.19.128.2 > 198.19.128.3: ICMP echo request" in seen

    # each lab host's monitor reports its own nodes' links into the one lab's live state
    for end in ("h1:eth0", "h2:eth0"):
        wait_for(lambda end=end: link_up(lab.tag, end), 60, f"{end} up in the live state")

    # captures and consoles go where the node is
    for node in ("h1", "h2"):
        cap = controls.request_capture(lab, node, "eth0", 1, 100_000)
        wait_for(lambda cap=cap: Capture.objects.get(id=cap.id).status in ("done", "failed"), 60, "a capture")
        assert Capture.objects.get(id=cap.id).status == "done", Capture.objects.get(id=cap.id).error
    said = async_to_sync(console_says)(lab.id, user, "h2", b"hostname; echo span-o''k\n", b"span-ok")
    assert b"h2" in said

    # a cable on b, pulled and plugged from the web side
    pulled = controls.request_cable(lab, [("h2", "eth0")], False, user)
    assert pulled.labhost == b.name and done(pulled.id).status == Operation.Status.SUCCEEDED
    wait_for(lambda: not link_up(lab.tag, "h2:eth0"), 60, "the pulled cable in the live state")
    code, _ = run_in(lab.tag, "client", "ping -c 1 -W 1 198.18.0.12")
    assert code != 0
    assert done(controls.request_cable(lab, [("h2", "eth0")], True, user).id).status == "succeeded"
    wait_for(lambda: link_up(lab.tag, "h2:eth0"), 60, "the plugged cable in the live state")

    # destroy: both parts go, the VNI is free again
    destroy = lifecycle.request_destroy(lab, user)
    assert len(destroy.params["parts"]) == 1
    wait_for(lambda: state(lab) == LabStatus.STOPPED, 120, "both parts to be destroyed")
    assert lab.tag not in marked(a.config.mark) and lab.tag not in marked(b.config.mark)
    assert fabric.owned(a.config.mark, lab.tag) == {} and fabric.owned(b.config.mark, lab.tag) == {}
    assert not StitchVni.objects.filter(lab=lab).exists() and Lab.objects.get(id=lab.id).parts == {}

    # deployed again, then b's processes die: the lab is lost, though its own lab host lives
    lifecycle.request_deploy(lab, user)
    wait_for(lambda: state(lab) == LabStatus.DEGRADED, 180, "the lab to run again")
    b.kill()
    wait_for(lambda: state(lab) == LabStatus.LOST, 60, "the lab to be lost with b")
    assert Lab.objects.get(id=lab.id).status_reason.startswith(f"lab host {b.name} lost")
    with pytest.raises(lifecycle.OperationRefused, match=f"lab host {b.name} is lost"):
        lifecycle.request_job(Lab.objects.get(id=lab.id), "exec", {"node": "h1", "command": ["true"]}, user)
    with pytest.raises(
        lifecycle.OperationRefused, match=f"nodes.h2.placement.labhost: lab host '{b.name}' is lost"
    ):
        lifecycle.request_deploy(Lab.objects.get(id=lab.id), user)
