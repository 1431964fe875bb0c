"""A fabric namespace left without its mark (a converge stopped between making it and marking it)
is marked by the next converge, and the monitor keeps looking at it until it is marked, rather
than never watching (nor anyone removing) it. A converge stopped while making one leaves a file
that is not yet a namespace: the next converge makes it one."""

import os

import pytest
from pyroute2 import IPRoute, netns

from tests.worker.conftest import new_tag
from worker import fabric
from worker.fake_runtime import FakeRuntime
from worker.labels import fabric_namespace
from worker.live.monitor import Monitor
from worker.nsock import netlink_fd_in

pytestmark = pytest.mark.kernel


@pytest.fixture
def unmarked():
    name = fabric_namespace(new_tag())
    netns.create(name)  # as a converge killed right after making it leaves it
    yield name
    fabric.remove(name)


def test_an_unmarked_fabric_is_looked_at_again_and_marked_by_the_next_converge(unmarked):
    watching = Monitor(lambda lab, events: None, FakeRuntime(), mark="install-a")
    try:
        assert watching._own_fabrics() == {}
        assert unmarked not in watching.seen_fabrics  # so the next tick asks again
        assert fabric.installation_of(unmarked) == ""
        assert fabric.create(unmarked, "install-a") is True  # adopted: its name holds the lab's tag
        assert fabric.installation_of(unmarked) == "install-a"
        assert unmarked in watching._own_fabrics() and unmarked in watching.seen_fabrics
        assert fabric.create(unmarked, "install-a") is False  # marked: nothing to do
    finally:
        watching.close()


def test_a_namespace_file_never_mounted_is_made_a_namespace_by_the_next_converge():
    name = fabric_namespace(new_tag())
    path = fabric.path_of(name)
    open(path, "w").close()  # as a converge killed between making the file and mounting on it leaves
    try:
        assert fabric.create(name, "install-a") is True
        with IPRoute(fileno=netlink_fd_in(path)) as ipr:
            assert ipr.link_lookup(ifname="lo")
        assert fabric.installation_of(name) == "install-a"
    finally:
        fabric.remove(name)
    assert not os.path.exists(path)
    open(path, "w").close()
    assert fabric.remove(name) is False and not os.path.exists(path)  # and removing one forgets it
