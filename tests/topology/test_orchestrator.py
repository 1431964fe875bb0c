"""The orchestrator as data: placing app instances, brokering their ports, naming them, and
Marathon's app JSON both ways."""

from __future__ import annotations

import dns.message
import dns.rdatatype
import pytest

from topology.compiler import compile_lab
from topology.document import document_to_data, parse_document, read_document
from topology.marathon import Invalid, from_marathon, to_marathon
from topology.orchestrator import schedule
from topology.validation import check
from worker.live.resolver import answer

AGENTS = """
name: cluster
networks: {lan: {kind: segment, subnet: 198.18.0.0/24}}
orchestrator: {agents: [h1, h2, h3]}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}, attributes: {rack: a}}
  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.12/24}}, attributes: {rack: a}}
  h3: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.13/24}}, attributes: {rack: b}}
  client: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.100/24}}}
"""


def lab(apps: dict, **more) -> dict:
    data = read_document(AGENTS).model_dump(mode="json", exclude_none=True)
    data = {**document_to_data(parse_document(data)), "apps": apps, **more}
    return data


def placed(apps: dict, previous: dict | None = None, down=()) -> tuple[dict, list]:
    placement, problems = schedule(parse_document(lab(apps)), previous, down)
    return placement, [f"{p.path}: {p.message}" for p in problems]


WEB = {"image": "wirelab/node:busybox", "command": "httpd -f -p $PORT0", "ports": ["auto"]}


def test_instances_spread_over_the_agents_and_stay_put_when_scaled():
    three, problems = placed({"web": {**WEB, "instances": 3}})
    assert problems == []
    assert sorted(three.values()) == ["h1", "h2", "h3"]
    five, _ = placed({"web": {**WEB, "instances": 5}}, three)
    assert {k: five[k] for k in three} == three  # the first three did not move
    assert sorted(five.values()).count("h1") + sorted(five.values()).count("h2") >= 3
    two, _ = placed({"web": {**WEB, "instances": 2}}, five)
    assert two == {"web.1": five["web.1"], "web.2": five["web.2"]}  # the newest ended


def test_an_agent_that_is_down_loses_its_instances_to_the_others():
    three, _ = placed({"web": {**WEB, "instances": 3}})
    moved, problems = placed({"web": {**WEB, "instances": 3}}, three, down={"h2"})
    assert problems == []
    assert "h2" not in moved.values()
    assert {k: v for k, v in moved.items() if three[k] != "h2"} == {
        k: v for k, v in three.items() if v != "h2"
    }


def test_constraints_choose_the_agents():
    cluster, _ = placed({"web": {**WEB, "instances": 2, "constraints": [["rack", "CLUSTER", "a"]]}})
    assert set(cluster.values()) <= {"h1", "h2"}
    unlike, _ = placed({"web": {**WEB, "instances": 2, "constraints": [["hostname", "UNLIKE", "h[12]"]]}})
    assert set(unlike.values()) == {"h3"}
    like, _ = placed({"web": {**WEB, "instances": 1, "constraints": [["hostname", "LIKE", "h2"]]}})
    assert like == {"web.1": "h2"}
    per_rack, _ = placed({"web": {**WEB, "instances": 2, "constraints": [["rack", "UNIQUE"]]}})
    assert sorted(per_rack.values())[-1] == "h3" and len(per_rack) == 2
    grouped, _ = placed({"web": {**WEB, "instances": 4, "constraints": [["rack", "GROUP_BY"]]}})
    racks = [{"h1": "a", "h2": "a", "h3": "b"}[a] for a in grouped.values()]
    assert racks.count("a") == racks.count("b") == 2
    capped, problems = placed({"web": {**WEB, "instances": 3, "constraints": [["rack", "MAX_PER", "1"]]}})
    assert len(capped) == 2 and problems == [
        "apps.web: constraint rack:MAX_PER:1 leaves no agent for instance 3 of 3"
    ]


def test_an_app_that_cannot_be_placed_says_why():
    _, unique = placed({"web": {**WEB, "instances": 4, "constraints": [["hostname", "UNIQUE"]]}})
    assert unique == ["apps.web: constraint hostname:UNIQUE needs 4 agents, the lab has 3"]
    _, fixed = placed({"web": {**WEB, "ports": [80], "instances": 4}})
    assert fixed == ["apps.web: no agent with port 80/tcp free for instance 4 of 4"]
    data = lab({"web": {**WEB, "ports": ["auto", "auto"], "instances": 2}})
    for host in ("h1", "h2", "h3"):
        data["nodes"][host]["port_range"] = "31000-31002"
    _, problems = schedule(parse_document(data))
    assert problems == []  # two ports an instance, three in each range: one instance an agent
    data["apps"]["web"]["instances"] = 4
    _, problems = schedule(parse_document(data))
    assert [p.message for p in problems] == ["no agent with free port in 31000-31002 for instance 4 of 4"]
    _, nothing = placed({"web": {**WEB}}, down={"h1", "h2", "h3"})
    assert nothing == ["apps.web: 1 instance(s) wanted, but no agent of the orchestrator runs"]


def test_the_document_checks_apps_and_agents_by_field():
    data = lab(
        {
            "web": {**WEB, "mode": "overlay:nowhere"},
            "client": {**WEB},
            "db": {**WEB, "constraints": [["rack", "NEAR"]]},
        }
    )
    data["orchestrator"]["agents"].append("ghost")
    _, problems = check(parse_document(data))
    said = {f"{p.path}: {p.message}" for p in problems}
    assert "orchestrator.agents[3]: no node named 'ghost'" in said
    assert "apps.web.mode: no overlay network named 'nowhere'" in said
    assert any(s.startswith("apps.client: 'client' also names a node") for s in said)
    assert any(s.startswith("apps.db.constraints[0]: 'NEAR' is no operator") for s in said)
    no_orchestrator = {**lab({"web": WEB})}
    no_orchestrator.pop("orchestrator")
    _, problems = check(parse_document(no_orchestrator))
    assert [(p.path, p.message) for p in problems] == [
        ("apps.web", "a lab with apps needs an `orchestrator`")
    ]


def test_a_problem_of_an_instance_is_said_of_its_app():
    _, problems = check(parse_document(lab({"web": {**WEB, "image": "", "instances": 1}})))
    assert [p.path for p in problems if p.severity == "error"] == ["apps.web.image"]
    assert "instance web.1 on h1" in problems[0].message


def test_instances_get_marathons_environment_and_names():
    doc = parse_document(lab({
        "web": {**WEB, "instances": 3, "ports": ["auto", {"name": "admin"}]},
        "db": {"image": "wirelab/node:busybox", "mode": "bridge", "ports": ["auto:80"], "instances": 2},
    }))  # fmt: skip
    specs, assignments = compile_lab(doc, "t-orch", "local")
    spec = specs["local"]
    web1 = next(a for a in spec.apps if a.name == "web.1")
    port0, port1 = assignments.ports["web.1:0"], assignments.ports["web.1:1"]
    assert web1.env == {
        "MARATHON_APP_ID": "/web", "MESOS_TASK_ID": "web.1", "HOST": assignments.instances["web.1"],
        "PORT0": str(port0), "PORT1": str(port1), "PORT_ADMIN": str(port1), "PORT": str(port0),
        "PORTS": f"{port0},{port1}",
    }  # fmt: skip

    def ask(name: str, kind: str) -> dns.message.Message:
        query = dns.message.make_query(name, kind)
        return dns.message.from_wire(answer(spec.names, "client", query.to_wire()))

    srv = ask("_db._tcp.marathon.mesos", "SRV")
    records = sorted((r.port, r.target.to_text()) for r in srv.answer[0])
    expected = sorted((assignments.ports[f"{i}:0"], f"{i}.marathon.mesos.") for i in ("db.1", "db.2"))
    assert records == expected
    glue = {rrset.name.to_text(): [r.address for r in rrset] for rrset in srv.additional}
    agent_address = {"h1": "198.18.0.11", "h2": "198.18.0.12", "h3": "198.18.0.13"}
    assert glue["db.1.marathon.mesos."] == [agent_address[assignments.instances["db.1"]]]
    web = sorted(r.address for r in ask("web.marathon.mesos", "A").answer[0])
    assert web == ["198.18.0.11", "198.18.0.12", "198.18.0.13"]
    assert [r.address for r in ask("marathon", "A").answer[0]] == ["127.0.0.11"]


POSTED_HOST = {
    "id": "/web", "cmd": "httpd -f -p $PORT0", "instances": 3, "cpus": 0.1, "mem": 32,
    "container": {"type": "DOCKER", "docker": {"image": "wirelab/node:busybox", "network": "HOST"}},
    "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "http"}],
    "constraints": [["hostname", "UNIQUE"]], "env": {"GREETING": "hi"},
}  # fmt: skip
WRITTEN_HOST = """
web:
  instances: 3
  image: wirelab/node:busybox
  command: httpd -f -p $PORT0
  env: {GREETING: hi}
  ports: [{host: auto, name: http}]
  constraints: [[hostname, UNIQUE]]
"""


def test_a_posted_app_is_the_app_written_in_the_document():
    name, app, ignored = from_marathon(POSTED_HOST)
    assert ignored == ["cpus", "mem"]
    written = read_document(AGENTS + "apps:\n" + "\n".join("  " + line for line in WRITTEN_HOST.splitlines()))
    posted = parse_document({**document_to_data(written), "apps": {name: app}})
    assert posted == written
    assert from_marathon(to_marathon(name, posted.apps[name]))[1] == app  # and back again


def test_bridge_and_virtual_network_apps_translate():
    _, bridge, _ = from_marathon({
        "id": "db", "instances": 2,
        "container": {"docker": {"image": "nginx", "network": "BRIDGE",
                                 "portMappings": [{"containerPort": 80, "hostPort": 0}, {"containerPort": 81, "hostPort": 10081}]}},
    })  # fmt: skip
    assert bridge["mode"] == "bridge" and bridge["ports"] == [
        {"host": "auto", "container": 80},
        {"host": 10081, "container": 81},
    ]
    _, overlay, _ = from_marathon({"id": "app", "container": {"docker": {"image": "nginx", "network": "USER"}},
                                   "ipAddress": {"networkName": "ov"}})  # fmt: skip
    assert overlay["mode"] == "overlay:ov"
    _, newer, _ = from_marathon({"id": "app", "container": {"docker": {"image": "nginx"}},
                                 "networks": [{"mode": "container", "name": "ov"}]})  # fmt: skip
    assert newer["mode"] == "overlay:ov"
    _, fixed, _ = from_marathon({"id": "app", "container": {"docker": {"image": "nginx"}}, "ports": [80, 0],
                                 "requirePorts": True})  # fmt: skip
    assert fixed["ports"] == [{"host": 80}, {"host": "auto"}]


def test_what_the_lab_does_not_serve_is_named_not_dropped():
    with pytest.raises(Invalid) as refused:
        from_marathon({**POSTED_HOST, "healthChecks": [{"protocol": "HTTP"}], "colour": "red",
                       "id": "/prod/web"})  # fmt: skip
    assert refused.value.details == [
        {"path": "/id", "errors": ["apps in groups (/group/app) are not served here: use an id of one part"]}
    ]
    with pytest.raises(Invalid) as refused:
        from_marathon({**POSTED_HOST, "readinessChecks": [{"protocol": "HTTP"}], "colour": "red",
                       "healthChecks": [{"protocol": "HTTPS", "delaySeconds": 1, "colour": "red"}]})  # fmt: skip
    assert sorted(d["path"] for d in refused.value.details) == [
        "/colour",
        "/healthChecks(0)/colour",
        "/healthChecks(0)/protocol",
        "/readinessChecks",
    ]
    with pytest.raises(Invalid) as refused:
        from_marathon({"id": "web", "container": {"docker": {"image": "x", "privileged": True}}})
    assert refused.value.details[0]["path"] == "/container/docker/privileged"


def test_a_vip_label_is_a_service_over_the_instances_named_as_dcos_did():
    doc = parse_document(lab({"web": {**WEB, "instances": 2, "labels": {"VIP_0": "198.18.0.200:80"}}}))
    specs, assignments = compile_lab(doc, "t-vip", "local")
    spec = specs["local"]
    (service,) = spec.services
    assert (service.name, service.address, service.port) == ("web", "198.18.0.200", 80)
    ports = {b.node: b.port for b in service.backends}
    assert ports == {i: assignments.ports[f"{i}:0"] for i in ("web.1", "web.2")}  # each its PORT0
    for name in ("web", "web.marathon.l4lb.thisdcos.directory"):
        query = dns.message.make_query(name, "A")
        found = dns.message.from_wire(answer(spec.names, "client", query.to_wire())).answer[0]
        assert [r.address for r in found] == ["198.18.0.200"]


def test_vip_labels_and_health_checks_are_checked():
    _, problems = check(parse_document(lab({
        "a": {**WEB, "labels": {"VIP_0": "/a:80"}},
        "b": {**WEB, "labels": {"VIP_1": "198.18.0.201:80"}},
        "c": {**WEB, "health": [{"protocol": "http", "port_index": 2}, {"protocol": "command"}]},
        "d": {**WEB, "health": [{"protocol": "tcp", "interval": 2, "timeout": 5}]},
    })))  # fmt: skip
    said = {p.path: p.message for p in problems}
    assert said["apps.a.labels.VIP_0"].startswith("'/a:80': give the virtual IP as ADDRESS:PORT")
    assert said["apps.b.labels.VIP_1"] == "VIP_1 is for the app's port 1, and it has 1"
    assert said["apps.c.health[0].port_index"] == "the app has 1 port(s): give `port` or a port it has"
    assert said["apps.c.health[1].command"] == "a command check runs a command: give it"
    assert said["apps.d.health[0].timeout"] == "a check's timeout is at most its interval"


def test_marathon_health_checks_translate_both_ways():
    checks = [
        {"protocol": "HTTP", "path": "/health", "portIndex": 0, "intervalSeconds": 2, "timeoutSeconds": 1,
         "maxConsecutiveFailures": 2, "gracePeriodSeconds": 5, "ignoreHttp1xx": False},
        {"protocol": "MESOS_TCP", "portIndex": 0},
        {"protocol": "COMMAND", "command": {"value": "test -f /www/index.html"}},
    ]  # fmt: skip
    name, app, _ = from_marathon({**POSTED_HOST, "healthChecks": checks})
    assert app["health"] == [
        {"protocol": "http", "path": "/health", "port_index": 0, "interval": 2, "timeout": 1, "max_failures": 2, "grace": 5},
        {"protocol": "tcp", "port_index": 0},
        {"protocol": "command", "command": "test -f /www/index.html"},
    ]  # fmt: skip
    doc = parse_document({**document_to_data(read_document(AGENTS)), "apps": {name: app}})
    again = from_marathon(to_marathon(name, doc.apps[name]))[1]
    assert parse_document({**document_to_data(doc), "apps": {name: again}}) == doc
