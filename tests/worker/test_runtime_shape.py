"""The runtime seam holds its implementations to one shape: the Docker runtime and the fake that
tests plan containers with offer every call of the `Runtime` protocol, with the same parameters
(names, order, defaults), so a test on the fake exercises the calls the engine really makes."""

import inspect

import pytest

from worker.docker_runtime import DockerRuntime
from worker.fake_runtime import FakeRuntime
from worker.runtime import Runtime


def calls(cls) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.isfunction)
        if not name.startswith("_")
    }


def shape(signature: inspect.Signature) -> list[tuple[str, object, object]]:
    return [(p.name, p.kind, p.default) for p in signature.parameters.values()]


@pytest.mark.parametrize("implementation", [DockerRuntime, FakeRuntime])
def test_an_implementation_has_every_call_of_the_runtime_protocol(implementation):
    wanted, offered = calls(Runtime), calls(implementation)
    assert len(wanted) > 20 and sorted(set(wanted) - set(offered)) == []
    differ = {
        name: (str(sig), str(offered[name]))
        for name, sig in wanted.items()
        if shape(sig) != shape(offered[name])
    }
    assert differ == {}
