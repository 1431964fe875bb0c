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


def mutated(seed, mutations):
    """A copy of `seed` with each (path, value) set where the path still leads somewhere."""
    data = copy.deepcopy(seed)
    for path, value in mutations:
        target = data
        try:
            for part in path[:-1]:
                target = target[part]
            target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue
    return data


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
    data = mutated(SEED, mutations)
    only_problems(yaml.safe_dump(data))
    only_problems(json.dumps(data, default=str))


# Peers' labs: the containerlab triangle mutated anywhere, and Kathará labs of random lines
# and files. Every answer is a list of problems.
from tests.topology.test_containerlab import FRR_TRIANGLE  # noqa: E402
from tests.topology.test_kathara import OSPF_LAB  # noqa: E402
from topology.importing import read_lab_files  # noqa: E402
from topology.kathara import files_from_zip  # noqa: E402

CLAB_SEED = yaml.safe_load(
    FRR_TRIANGLE.replace("${MGMT_NET:=clab-mgmt}", "m").replace("${LAB_NAME:=triangle}", "t")
)
CLAB_PATHS = [p for p in paths(CLAB_SEED) if p]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CLAB_PATHS), values), min_size=1, max_size=4))
def test_mutated_containerlab_files(mutations):
    data = mutated(CLAB_SEED, mutations)
    only_problems(yaml.safe_dump(data))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["${", "{{ x }}", "topology:\n", "${A:=", "${A:-b}"]))
def test_containerlab_text_with_variables_and_templates(text, piece):
    only_problems(f"topology:\n  nodes:\n    a: {{kind: linux, image: '{piece}'}}\n{text}")
    only_problems(f"topology:\n{piece}{text}")


def only_lab_problems(files):
    try:
        _, problems = read_lab_files(files)
    except TopologyError as exc:
        problems = exc.problems
    assert all(isinstance(p, Problem) and p.message for p in problems)


conf_lines = st.one_of(
    st.text(max_size=40),
    st.builds(
        lambda d, k, v: f'{d}[{k}]="{v}"', st.text(max_size=6), st.text(max_size=6), st.text(max_size=12)
    ),
    st.builds(
        lambda d, n, v: f"{d}[{n}]={v}",
        st.sampled_from(["r1", "pc1", "x"]),
        st.integers(-2, 300),
        st.sampled_from(["A", "B/aa:bb", "", "../x", "A B"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(conf_lines, max_size=12),
    st.dictionaries(st.text(max_size=12), st.binary(max_size=64), max_size=5),
)
def test_random_kathara_labs(lines, extra):
    files = {**extra, "lab.conf": "\n".join(lines).encode()}
    only_lab_problems(files)
    only_lab_problems({**OSPF_LAB, **extra, "lab.conf": OSPF_LAB["lab.conf"] + "\n".join(lines).encode()})


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_archives(data):
    try:
        only_lab_problems(files_from_zip(b"PK\x03\x04" + data))
    except TopologyError as exc:
        assert exc.problems and exc.problems[0].message
