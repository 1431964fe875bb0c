"""The lab's orchestrator, driven as the primer's readers drove Marathon: app JSON posted with
curl from a node of a deployed lab to http://marathon:8080, and the instances checked from a
client: on their brokered ports, through SRV records, scaled, replaced and removed."""

import json
import re
import shlex

import docker
import pytest

from labs.models import LabEvent, Operation
from labs.store.documents import lab_assignments, lab_document
from tests.labs.live_helpers import apply, cable
from tests.waiting import wait_for
from worker.labels import container_name

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]

CLUSTER = """
name: cluster
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
  ov: {kind: overlay, subnet: 198.19.128.0/24}
orchestrator: {agents: [h1, h2, h3]}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}}
  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.12/24}}}
  h3: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.13/24}}}
  client:
    kind: host
    image: wirelab/node:debian
    interfaces: {eth0: {network: lan, address: 198.18.0.100/24}}
"""
ADDRESS = {"h1": "198.18.0.11", "h2": "198.18.0.12", "h3": "198.18.0.13"}
SERVE = "mkdir -p /www && echo $MESOS_TASK_ID > /www/index.html && exec httpd -f -p {port} -h /www"


def marathon(run_in, tag):
    """`call(method, path, body=None)` -> (HTTP status, JSON answer), made with curl on the client."""

    def call(method: str, path: str, body=None):
        data = (
            f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
            if body is not None
            else ""
        )
        code, out = run_in(
            tag,
            "client",
            f"curl -sS -m 300 -w '\\n%{{http_code}}' -X {method} {data} http://marathon:8080{path}",
        )
        assert code == 0, out
        text, _, status = out.rpartition("\n")
        return int(status), (json.loads(text) if text.strip().startswith(("{", "[")) else text)

    return call


def answers(run_in, tag, task) -> str:
    host, port = task["host"], task["ports"][0]
    return run_in(tag, "client", f"curl -s -m 5 http://{host}:{port}/")[1].strip()


def all_answer(run_in, tag, call, app: str, count: int) -> list[dict]:
    """The app's tasks once there are `count`, each answering with its own id on its port."""
    tasks: list[dict] = []

    def ready() -> bool:
        nonlocal tasks
        tasks = call("GET", f"/v2/apps/{app}/tasks")[1]["tasks"]
        return len(tasks) == count and all(answers(run_in, tag, t) == t["id"] for t in tasks)

    assert wait_for(ready, 90, f"{count} tasks of {app} answering"), tasks
    return tasks


def settled(lab) -> None:
    """Until no change of the lab is under way (the upkeep's own deploys among them)."""
    busy = Operation.objects.filter(lab_id=lab.id, status__in=("queued", "running"))
    assert wait_for(lambda: not busy.exists(), 90, "the lab's changes ended")


def test_a_host_mode_app_posted_with_curl_scales_heals_and_goes(monitor, labs_up, user, run_in):
    lab = labs_up(CLUSTER, user)
    call = marathon(run_in, lab.tag)
    assert wait_for(lambda: run_in(lab.tag, "client", "curl -s -m 5 http://marathon:8080/ping")[1] == "pong", 60,
                    "the orchestrator's API answering in the client")  # fmt: skip
    # the Debian client's /var/run is a link to /run: its Docker socket is made in its own
    # filesystem, and the lab host's engine socket is untouched
    assert wait_for(
        lambda: run_in(lab.tag, "client", "test -S /run/docker.sock")[0] == 0, 60, "client's socket"
    )
    assert docker.from_env().ping()

    app = {
        "id": "/web", "cmd": SERVE.format(port="$PORT0"), "instances": 3, "cpus": 0.1, "mem": 32,
        "container": {"type": "DOCKER", "docker": {"image": "wirelab/node:busybox", "network": "HOST"}},
        "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
    }  # fmt: skip
    status, made = call("POST", "/v2/apps", app)
    assert status == 201, made
    assert made["id"] == "/web" and made["ignoredFields"] == ["cpus", "mem"]
    tasks = all_answer(run_in, lab.tag, call, "web", 3)
    assert sorted(t["host"] for t in tasks) == ["h1", "h2", "h3"]  # spread over the agents
    for task in tasks:
        assert 31000 <= task["ports"][0] <= 31999
        assert task["ipAddresses"] == [{"ipAddress": ADDRESS[task["host"]], "protocol": "IPv4"}]

    # SRV records name every instance's brokered port, as /v2/tasks does
    _, out = run_in(lab.tag, "client", "dig +short SRV _web._tcp.marathon.mesos")
    records = sorted((int(line.split()[2]), line.split()[3]) for line in out.strip().splitlines())
    assert records == sorted((t["ports"][0], f"{t['id']}.marathon.mesos.") for t in tasks), out
    _, out = run_in(lab.tag, "client", "dig +short web.marathon.mesos")
    assert sorted(out.split()) == sorted(ADDRESS.values()), out

    # scaled up and down; the first instances stay where they were
    before = {t["id"]: t["host"] for t in tasks}
    status, changed = call("PUT", "/v2/apps/web", {"instances": 5})
    assert status == 200, changed
    five = all_answer(run_in, lab.tag, call, "web", 5)
    assert {t["id"]: t["host"] for t in five if t["id"] in before} == before
    assert call("PUT", "/v2/apps/web", {"instances": 2})[0] == 200
    two = all_answer(run_in, lab.tag, call, "web", 2)
    assert sorted(t["id"] for t in two) == ["web.1", "web.2"]
    assert "web.3" not in lab_assignments(type(lab).objects.get(id=lab.id)).instances

    # an app that cannot be placed says why, and nothing changes
    status, refused = call("PUT", "/v2/apps/web", {"instances": 4, "constraints": [["hostname", "UNIQUE"]]})
    assert status == 422, refused
    assert refused["details"] == [
        {"path": "apps.web", "errors": ["constraint hostname:UNIQUE needs 4 agents, the lab has 3"]}
    ]
    assert lab_document(type(lab).objects.get(id=lab.id)).apps["web"].instances == 2

    # a task killed is replaced: it answers again
    status, killed = call("DELETE", "/v2/apps/web/tasks/web.1")
    assert status == 200 and killed["task"]["id"] == "web.1", killed
    all_answer(run_in, lab.tag, call, "web", 2)

    # the orchestrator's upkeep: an instance whose container dies is replaced...
    host_of = {t["id"]: t["host"] for t in call("GET", "/v2/tasks")[1]["tasks"]}
    engine = docker.from_env()
    engine.containers.get(container_name(lab.tag, "web.2")).kill()  # as a crash: not through the lab
    all_answer(run_in, lab.tag, call, "web", 2)  # it answers again
    # ...an agent cut off (its cable pulled) loses its instances to the others...
    cut = host_of["web.2"]
    cable(lab.id, [[cut, "eth0"]], False)
    moved = wait_for(lambda: {t["id"]: t["host"] for t in call("GET", "/v2/tasks")[1]["tasks"]}.get("web.2") != cut,
                     90, "web.2 moved off its agent")  # fmt: skip
    assert moved
    all_answer(run_in, lab.tag, call, "web", 2)
    settled(lab)  # the upkeep's deploy ended: the lab takes controls again
    cable(lab.id, [[cut, "eth0"]], True)
    # ...as does one killed with the docker CLI on its agent, where `docker ps` lists it
    agent = {t["id"]: t["host"] for t in call("GET", "/v2/tasks")[1]["tasks"]}["web.1"]
    code, out = run_in(lab.tag, agent, "docker ps --format '{{.Names}}'")
    assert code == 0 and "web.1" in out.split(), out
    code, out = run_in(lab.tag, agent, "docker rm -f web.1 2>&1")
    assert code != 0 and "is an instance of app /web" in out, out
    assert run_in(lab.tag, agent, "docker kill web.1")[0] == 0
    all_answer(run_in, lab.tag, call, "web", 2)
    settled(lab)
    # ...and an agent that stops
    stopped = {t["id"]: t["host"] for t in call("GET", "/v2/tasks")[1]["tasks"]}["web.1"]
    apply(lab.id, "node", node=stopped, action="stop")
    assert wait_for(lambda: {t["id"]: t["host"] for t in call("GET", "/v2/tasks")[1]["tasks"]}["web.1"] != stopped,
                    90, "web.1 moved off its stopped agent")  # fmt: skip
    all_answer(run_in, lab.tag, call, "web", 2)
    said = list(LabEvent.objects.filter(lab_id=lab.id).values_list("message", flat=True))
    assert any(m.startswith(f"orchestrator: web.2 moves off {cut} (its cables pulled) to ") for m in said), (
        said
    )
    assert any(m.startswith(f"orchestrator: web.1 moves off {stopped} (stopped) to ") for m in said), said
    assert "orchestrator: web.2 stopped: started anew" in said, said

    # what is not served is named
    status, refused = call(
        "POST", "/v2/apps", {**app, "id": "/checked", "readinessChecks": [{"protocol": "HTTP"}]}
    )
    assert status == 422 and refused["details"] == [
        {"path": "/readinessChecks", "errors": ["not served by this lab's orchestrator yet"]}
    ]
    assert call("GET", "/v2/apps/nothing")[0] == 404

    # removed: its containers go, and its names
    assert call("DELETE", "/v2/apps/web")[0] == 200
    assert call("GET", "/v2/tasks")[1] == {"tasks": []}
    assert "web" not in lab_document(type(lab).objects.get(id=lab.id)).apps
    assert wait_for(
        lambda: run_in(lab.tag, "client", "dig +short web.marathon.mesos")[1].strip() == "",
        30,
        "web's name gone",
    )


def test_bridge_mode_and_virtual_network_apps(monitor, labs_up, user, run_in):
    lab = labs_up(CLUSTER, user)
    call = marathon(run_in, lab.tag)
    assert wait_for(lambda: run_in(lab.tag, "client", "curl -s -m 5 http://marathon:8080/ping")[1] == "pong", 60,
                    "the orchestrator's API answering in the client")  # fmt: skip
    bridged = {
        "id": "db", "cmd": SERVE.format(port=80), "instances": 2,
        "container": {"docker": {"image": "wirelab/node:busybox", "network": "BRIDGE",
                                 "portMappings": [{"containerPort": 80, "hostPort": 0}]}},
    }  # fmt: skip
    status, made = call("POST", "/v2/apps", bridged)
    assert status == 201, made
    tasks = all_answer(run_in, lab.tag, call, "db", 2)
    assert len({t["host"] for t in tasks}) == 2

    virtual = {
        "id": "vn", "cmd": "sleep 3600", "instances": 2, "ipAddress": {"networkName": "ov"},
        "container": {"docker": {"image": "wirelab/node:busybox", "network": "USER"}},
    }  # fmt: skip
    assert call("POST", "/v2/apps", virtual)[0] == 201
    vn = call("GET", "/v2/apps/vn/tasks")[1]["tasks"]
    addresses = [t["ipAddresses"][0]["ipAddress"] for t in vn]
    assert all(a.startswith("198.19.128.") for a in addresses), vn
    code, out = run_in(lab.tag, "vn.1", f"ping -c 2 -W 5 {addresses[1]}")
    assert code == 0, out
    code, out = run_in(lab.tag, "vn.2", "nslookup vn.marathon.mesos 127.0.0.11")
    assert all(a in out for a in addresses), out


def test_health_checks_keep_the_vip_to_healthy_instances_and_restart_failing_ones(
    monitor, labs_up, user, run_in
):
    lab = labs_up(CLUSTER, user)
    call = marathon(run_in, lab.tag)
    assert wait_for(lambda: run_in(lab.tag, "client", "curl -s -m 5 http://marathon:8080/ping")[1] == "pong", 60,
                    "the orchestrator's API answering in the client")  # fmt: skip
    check = {"protocol": "HTTP", "path": "/", "portIndex": 0, "intervalSeconds": 2, "timeoutSeconds": 2,
             "gracePeriodSeconds": 0, "maxConsecutiveFailures": 0}  # fmt: skip
    app = {
        "id": "/web", "cmd": SERVE.format(port="$PORT0"), "instances": 3,
        "container": {"docker": {"image": "wirelab/node:busybox", "network": "HOST"}},
        "portDefinitions": [{"port": 0}], "labels": {"VIP_0": "198.18.0.200:80"}, "healthChecks": [check],
    }  # fmt: skip
    assert call("POST", "/v2/apps", app)[0] == 201

    def app_counts() -> tuple[int, int]:
        shown = call("GET", "/v2/apps/web")[1]["app"]
        return shown["tasksHealthy"], shown["tasksUnhealthy"]

    assert wait_for(lambda: app_counts() == (3, 0), 60, "three healthy instances")

    def through_vip(times: int) -> set[str]:
        loop = f"for i in $(seq {times}); do curl -s -m 3 http://web/; done"  # the lab's DNS names the VIP
        return set(run_in(lab.tag, "client", loop)[1].split())

    assert wait_for(lambda: through_vip(9) == {"web.1", "web.2", "web.3"}, 60, "the VIP over all three")

    # web.2 answers 404 from now on: unhealthy, it leaves the VIP (and, never restarted, stays out)
    assert run_in(lab.tag, "web.2", "rm /www/index.html")[0] == 0
    assert wait_for(lambda: app_counts() == (2, 1), 60, "web.2 unhealthy")
    task = next(t for t in call("GET", "/v2/apps/web/tasks")[1]["tasks"] if t["id"] == "web.2")
    (result,) = task["healthCheckResults"]
    assert result["alive"] is False and "answered 404" in result["lastFailureCause"], result
    assert wait_for(lambda: through_vip(9) == {"web.1", "web.3"}, 60, "the VIP without web.2")
    assert through_vip(15) == {"web.1", "web.3"}

    # allowed two failures in a row, it is started anew (its command writes the page again)
    assert call("PUT", "/v2/apps/web", {"healthChecks": [{**check, "maxConsecutiveFailures": 2}]})[0] == 200
    assert wait_for(lambda: app_counts() == (3, 0), 90, "web.2 started anew and healthy")
    said = list(LabEvent.objects.filter(lab_id=lab.id).values_list("message", flat=True))
    # it had failed a few times already while no count was set: at least two, in a row, and why
    restarted = re.compile(
        r"orchestrator: web\.2 failed its health check ([2-9]|\d\d+) times in a row \(GET / on port \d+ answered 404\)"
    )
    assert any(restarted.match(m) for m in said), said
    assert wait_for(lambda: through_vip(9) == {"web.1", "web.2", "web.3"}, 60, "the VIP over all three again")
