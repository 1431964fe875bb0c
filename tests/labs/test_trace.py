"""A packet's journey through the API: the request checked (fields named), queued as a job on the
node's lab host, carried out against the real kernel, its journey the operation's result."""

import pytest

from labs.hostside.jobs import carry_out
from labs.models import Operation
from tests.conftest import DEMOS
from tests.labs.live_helpers import last_said

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]


def test_a_trace_through_the_api(labs_up, user, api):
    lab = labs_up((DEMOS / "docker-modes.yaml").read_text(), user)
    url = f"/api/labs/{lab.id}/trace/"
    bad = api.post(url, {"node": "client", "target": "198.18.0.11", "protocol": "sctp"}, format="json")
    assert bad.status_code == 400 and "protocol" in str(bad.json())
    bad = api.post(url, {"node": "client", "target": "a b", "protocol": "icmp"}, format="json")
    assert bad.status_code == 400 and "target" in str(bad.json())
    refused = api.post(url, {"node": "client", "target": "198.18.0.11", "protocol": "tcp"}, format="json")
    assert refused.status_code == 409 and "needs a port" in str(refused.json())
    missing = api.post(url, {"node": "nobody", "target": "198.18.0.11"}, format="json")
    assert missing.status_code == 409 and "no node nobody" in str(missing.json())

    answer = api.post(
        url, {"node": "client", "target": "h1", "protocol": "tcp", "port": 10000}, format="json"
    )
    assert answer.status_code == 202, answer.json()
    op = carry_out(answer.json()["operation"])
    assert op.status == Operation.Status.SUCCEEDED and op.kind == "trace", op.error
    journey = op.result
    assert journey["probe"]["address"] == "198.18.0.11"
    assert journey["outcome"]["result"] == "reached" and journey["outcome"]["at"] == "nginx-2"
    assert [h["rewrite"]["kind"] for h in journey["hops"] if "rewrite" in h] == ["DNAT", "un-DNAT"]
    shown = api.get(f"/api/labs/{lab.id}/operations/").json()
    assert any(o["id"] == op.id and o["result"]["hops"] for o in shown)
    said = last_said(lab.tag, "operation")  # the page that asked hears the end on its socket
    assert (said["id"], said["kind"], said["status"]) == (op.id, "trace", "succeeded")
