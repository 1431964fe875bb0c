"""An exercise's variables: drawn the same for a seed, subnets that never overlap, and places
filled in strings, keys and whole numbers."""

import ipaddress

import pytest
from pydantic import ValidationError

from topology.variants import VariableDoc, draw, substitute


def variables(**spec) -> dict[str, VariableDoc]:
    return {name: VariableDoc.model_validate(value) for name, value in spec.items()}


def test_a_seed_draws_the_same_values_and_another_seed_others():
    spec = variables(
        lan=dict(subnet="198.18.0.0/15", prefix=24),
        port=dict(range=[10000, 10999]),
        word=dict(choice=["alpha", "bravo", "charlie", "delta"]),
    )
    first = draw(spec, "seed one")
    assert first == draw(spec, "seed one")
    assert ipaddress.ip_network("198.18.0.0/15").supernet_of(first["lan"]) and first["lan"].prefixlen == 24
    assert 10000 <= first["port"] <= 10999 and first["word"] in {"alpha", "bravo", "charlie", "delta"}
    assert len({str(draw(spec, f"seed {n}")["lan"]) for n in range(20)}) > 10


def test_subnets_drawn_from_one_pool_never_overlap_and_a_small_pool_says_so():
    spec = variables(a=dict(subnet="10.0.0.0/22", prefix=24), b=dict(subnet="10.0.0.0/22", prefix=23),
                     c=dict(subnet="10.0.0.0/22", prefix=24))  # fmt: skip
    for n in range(30):
        drawn = draw(spec, f"seed {n}")
        assert not drawn["a"].overlaps(drawn["b"]) and not drawn["a"].overlaps(drawn["c"])
        assert not drawn["b"].overlaps(drawn["c"])
    with pytest.raises(ValueError, match="too few /24 subnets"):
        draw(variables(a=dict(subnet="10.0.0.0/24", prefix=24), b=dict(subnet="10.0.0.0/24", prefix=24)), "x")


def test_places_are_filled_in_strings_keys_and_as_whole_numbers():
    values = draw(variables(lan=dict(subnet="198.18.0.0/16", prefix=24), port=dict(range=[8000, 8000])), "s")
    lan = values["lan"]
    data = {
        "networks": {"lan": {"subnet": "{{lan}}"}},
        "nodes": {
            "h1": {"address": "{{lan.11}}/{{ lan.len }}", "ports": ["{{port}}:80"], "port": "{{port}}"}
        },
        "checks": [{"to": "h1:{{port}}"}],
        "{{port}}-key": 1,
    }
    filled, problems = substitute(data, values)
    assert problems == []
    assert filled["networks"]["lan"]["subnet"] == str(lan)
    assert filled["nodes"]["h1"] == {"address": f"{lan[11]}/24", "ports": ["8000:80"], "port": 8000}
    assert filled["checks"] == [{"to": "h1:8000"}] and filled["8000-key"] == 1

    _, problems = substitute({"a": ["{{nope}}", "{{port.len}}", "{{lan.300}}"]}, values)
    assert [(p.path, p.message) for p in problems] == [
        ("a[0]", "{{nope}} names no variable of the exercise"),
        ("a[1]", "{{port.len}}: only a subnet variable has parts"),
        ("a[2]", "{{lan.300}}: a subnet's parts are len and 1 to 254"),
    ]


def test_a_variable_is_one_kind_with_sensible_bounds():
    for wrong, said in [
        (dict(subnet="198.18.0.0/16"), "needs a prefix from 16 to 30"),
        (dict(subnet="198.18.0.0/16", prefix=8), "needs a prefix from 16 to 30"),
        (dict(range=[5, 1]), "FIRST <= LAST"),
        (dict(range=[1, 5], choice=["a"]), "exactly one of"),
        (dict(prefix=24, range=[1, 2]), "`prefix` goes with `subnet`"),
        (dict(subnet="not a net", prefix=24), "is not a subnet"),
    ]:
        with pytest.raises(ValidationError, match=said):
            VariableDoc.model_validate(wrong)
