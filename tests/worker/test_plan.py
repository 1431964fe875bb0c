"""What each namespace must hold, worked out from a spec without touching the kernel."""

from topology.compiler import compile_lab
from topology.document import read_document
from topology.spec import FABRIC
from worker.plan import namespace_plans


def plans_of(text):
    specs, _ = compile_lab(read_document(text), "t1", "local")
    return specs["local"], namespace_plans(specs["local"])


def test_every_namespace_gets_its_part(demo_text):
    spec, plans = plans_of(demo_text("docker-modes"))
    assert set(plans) == {FABRIC, "h1", "h2", "client", "nginx-2", "nginx-3", "app-1", "app-2"}
    assert set(plans[FABRIC].bridges) == set(spec.segments)
    h1 = plans["h1"]
    assert h1.ports["eth0"].addresses == ["198.18.0.11/24"]
    assert h1.bridges["docker0"].addresses == ["198.19.0.1/24"]
    assert [v.name for v in h1.vxlans] == ["vx90977deb"]
    assert plans["nginx-2"].routes == [("default", "198.19.0.1")]
    assert plans["app-1"].ports["eth0"].mtu == 1450
    assert spec.own_namespace_apps() == ["nginx-2", "nginx-3", "app-1", "app-2"]


def test_owned_names_cover_everything_the_engine_made(demo_text):
    _, plans = plans_of(demo_text("docker-modes"))
    h1 = plans["h1"]
    assert h1.owned_names() >= {"eth0", "docker0", "vx90977deb", "ov90977deb"}
