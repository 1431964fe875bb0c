"""A node's descriptors are bounded, and naming who holds a listening socket looks at a bounded
number of them: a process holding a great many slows no one."""

import os
import resource
import socket

import pytest

from tests.conftest import DEMOS
from worker.live.processes import socket_processes

pytestmark = pytest.mark.kernel


def test_naming_a_socket_s_process_reads_a_bounded_number_of_descriptors():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    held_count = min(60_000, hard - 500)
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(held_count)]
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        key = ("tcp", listener.getsockname()[1])
        assert listener.fileno() > held_count  # after every descriptor held: past a bound of fewer
        assert socket_processes(os.getpid(), [key], most=held_count // 2) == {}
        assert socket_processes(os.getpid(), [key], most=10**8) == {key: os.getpid()}
    finally:
        listener.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_a_node_s_processes_may_each_open_a_bounded_number_of_files(engine, run_in):
    lab = engine((DEMOS / "routed.yaml").read_text())
    assert run_in(lab.tag, "h1", "ulimit -n") == (0, "1024\n")
    assert run_in(lab.tag, "h1", "ulimit -n 4096")[0] != 0  # a student cannot raise it
