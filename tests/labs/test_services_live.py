"""A service's backend killed behind Wirelab's back, with the lab host's monitor running: the
monitor's container event rewrites the hosts' service tables and the backend is dropped. The
monitor also answers the lab's names."""

import docker
import pytest

from tests.conftest import DEMOS
from tests.waiting import wait_for
from tests.worker.test_services import answers

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


def test_the_monitor_drops_a_killed_backend_and_takes_it_back_when_it_runs(monitor, labs_up, user, run_in):
    lab = labs_up((DEMOS / "load-balancing.yaml").read_text(), user)
    assert set(answers(run_in, lab.tag)) == {"web-1", "web-2", "web-3"}
    # the monitor answers the lab's names: the service by its own
    by_name = lambda: run_in(lab.tag, "client", "timeout 5 wget -qO- http://web/")  # noqa: E731
    assert wait_for(lambda: by_name()[0] == 0, 60, "the client reaching http://web/")
    client = docker.from_env()
    try:
        web3 = client.containers.get(f"wl-{lab.tag}-web-3")
        web3.kill()
        wait_for(lambda: set(answers(run_in, lab.tag, times=6)) == {"web-1", "web-2"}, 60, "web-3 dropped")
        web3.start()  # its holder kept its namespace: it serves again, and is taken back
        wait_for(lambda: "web-3" in answers(run_in, lab.tag, times=6), 60, "web-3 back in the rotation")
    finally:
        client.close()
