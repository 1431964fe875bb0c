"""Random and mutated documents: the importer answers with problems, never a crash."""

import copy
import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topology.importing import read_lab
from topology.problems import Problem, TopologyError

SEED = yaml.safe_load(open("labs/demo/docker-modes.yaml").read())  # noqa: SIM115

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["auto", "host", "bridge", "overlay:ov", "10000:80", "h1:eth0"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def only_problems(text):
    try:
        _, problems = read_lab(text, 200_000)
    except TopologyError as exc:
        problems = exc.problems
    assert all(isinstance(p, Problem) and p.message for p in problems)


def paths(data, prefix=()):
    yield prefix
    if isinstance(data, dict):
        for key, value in data.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from paths(value, (*prefix, index))


ALL_PATHS = [p for p in paths(SEED) if p]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text):
    only_problems(text)


@settings(max_examples=300, deadline=None)
@given(values)
def test_random_structures(data):
    only_problems(json.dumps({"name": "x", "nodes": data}, default=str))
    only_problems(json.dumps(data, default=str))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(ALL_PATHS), values), min_size=1, max_size=4))
def test_mutated_demo_documents(mutations):
    data = copy.deepcopy(SEED)
    for path, value in mutations:
        target = data
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    only_problems(yaml.safe_dump(data))
    only_problems(json.dumps(data, default=str))
