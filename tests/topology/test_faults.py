"""Troubleshooting faults as data: each kind changes the document as it says, names what the
lab has not, and a seed draws the same faults every time."""

import pytest
from pydantic import ValidationError

from topology.faults import FaultDoc, FaultsDoc, apply_fault, draw_faults

LAB = {
    "name": "lab",
    "nodes": {
        "client": {"kind": "host", "routes": [{"to": "198.18.2.0/24", "via": "198.18.1.1"}]},
        "web": {"kind": "container", "host": "h1", "ports": ["10000:80", 5000]},
    },
    "links": [{"endpoints": ["client:eth0", "r1:eth0"]}],
}


def fault(**spec) -> FaultDoc:
    return FaultDoc.model_validate(spec)


def test_each_kind_of_fault_changes_the_lab_as_it_says():
    missing = apply_fault(LAB, fault(route={"node": "client", "to": "198.18.2.0/24"}))
    assert missing["nodes"]["client"]["routes"] == []
    wrong = apply_fault(LAB, fault(route={"node": "client", "to": "198.18.2.0/24", "via": "198.18.1.99"}))
    assert wrong["nodes"]["client"]["routes"] == [{"to": "198.18.2.0/24", "via": "198.18.1.99"}]
    assert apply_fault(LAB, fault(cable="client:eth0"))["links"] == []
    assert apply_fault(LAB, fault(port={"node": "web", "host": 10000, "container": 8080}))["nodes"]["web"][
        "ports"
    ] == ["10000:8080", 5000]
    ran = apply_fault(LAB, fault(command={"node": "client", "run": "ip link set eth0 mtu 1400"}))
    assert ran["nodes"]["client"]["exec"] == ["ip link set eth0 mtu 1400"]
    assert LAB["nodes"]["client"]["routes"] == [{"to": "198.18.2.0/24", "via": "198.18.1.1"}]  # untouched


def test_a_fault_naming_what_the_lab_has_not_says_so():
    for spec, said in [
        ({"route": {"node": "client", "to": "10.0.0.0/8"}}, "client has no route to 10.0.0.0/8"),
        ({"route": {"node": "nobody", "to": "10.0.0.0/8"}}, "there is no node nobody"),
        ({"cable": "client:eth9"}, "no cable ends at client:eth9"),
        ({"port": {"node": "web", "host": 9999, "container": 1}}, "web publishes no port 9999"),
    ]:
        with pytest.raises(ValueError, match=said):
            apply_fault(LAB, fault(**spec))
    with pytest.raises(ValidationError, match="exactly one of"):
        fault(cable="client:eth0", route={"node": "client", "to": "default"})


def test_a_seed_draws_the_same_faults_and_pick_of_them():
    faults = FaultsDoc.model_validate({"pick": 2, "from": [{"cable": f"n{i}:eth0"} for i in range(6)]})
    assert draw_faults(faults, "sam") == draw_faults(faults, "sam")
    assert len(draw_faults(faults, "sam")) == 2
    assert len({tuple(draw_faults(faults, f"s{n}")) for n in range(30)}) > 5
    with pytest.raises(ValidationError, match="the catalogue has 1 faults"):
        FaultsDoc.model_validate({"pick": 2, "from": [{"cable": "a:eth0"}]})
    assert fault(route={"node": "h1", "to": "198.18.1.0/24", "via": "198.18.2.99"}).describe() == (
        "h1's route to 198.18.1.0/24 goes via 198.18.2.99"
    )
