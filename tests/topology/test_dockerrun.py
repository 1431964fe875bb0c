"""`docker run` as the document's words and back: what the lab's Docker API stores for a
container create, and the line the panel and the script export show for a container node."""

import pytest
import yaml

from tests.conftest import DEMOS
from topology.dockerrun import Refused, docker_script, network_from_create, node_from_create, run_line
from topology.document import parse_document
from topology.validation import validate

LAB = parse_document(
    {
        "name": "t",
        "networks": {
            "lan": {"kind": "segment", "subnet": "198.18.0.0/24"},
            "ov": {"kind": "overlay", "subnet": "198.19.1.0/24"},
        },
        "nodes": {"h1": {"kind": "host", "interfaces": {"eth0": {"network": "lan"}}}},
    }
)


def created(**body):
    return node_from_create(LAB, "h1", "web", {"Image": "nginx", **body})


def test_the_primers_flags_become_the_documents_modes_and_ports():
    assert created(HostConfig={"NetworkMode": "host"})["mode"] == "host"
    assert created(HostConfig={"NetworkMode": "default"})["mode"] == "bridge"
    assert created(HostConfig={"NetworkMode": "ov"})["mode"] == "overlay:ov"
    assert created(HostConfig={"NetworkMode": "none"})["mode"] == "none"
    bridged = created(
        ExposedPorts={"80/tcp": {}, "53/udp": {}},
        HostConfig={
            "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "10000"}], "53/udp": [{"HostPort": ""}]}
        },
    )
    assert bridged["ports"] == ["10000:80", "auto:53/udp"]  # -p 53/udp: a port the host chooses
    assert created(ExposedPorts={"80/tcp": {}}, HostConfig={"PublishAllPorts": True})["ports"] == ["auto:80"]
    dynamic = created(HostConfig={"NetworkMode": "host", "PublishAllPorts": True})
    assert dynamic["ports"] == ["auto"]  # host mode: -P asks the host's range for PORT0
    made = created(Cmd=["sleep", "1"], Entrypoint=["/bin/env"], Env=["A=1", "B=x=y"])
    assert made["command"] == ["/bin/env", "sleep", "1"] and made["env"] == {"A": "1", "B": "x=y"}
    assert validate(parse_document({**LAB.model_dump(exclude_none=True), "nodes": {
        **LAB.model_dump(exclude_none=True)["nodes"], "web": bridged}})) == []  # fmt: skip


@pytest.mark.parametrize(
    "body, status, words",
    [
        ({}, 400, "No image was specified"),
        ({"Image": "nginx", "HostConfig": {"NetworkMode": "nope"}}, 404, "network nope not found"),
        ({"Image": "nginx", "HostConfig": {"NetworkMode": "lan"}}, 400, "not a Docker network"),
        ({"Image": "nginx", "HostConfig": {"Binds": ["/:/host"]}}, 400, "volumes (-v)"),
        ({"Image": "nginx", "HostConfig": {"Privileged": True}}, 400, "--privileged"),
    ],
)
def test_what_a_docker_host_does_not_take_is_refused_as_dockerd_words_it(body, status, words):
    with pytest.raises(Refused) as refused:
        node_from_create(LAB, "h1", "web", body)
    assert refused.value.status == status and words in refused.value.message


def test_network_create_makes_an_overlay_on_a_free_subnet():
    assert network_from_create(LAB, {"Name": "ov2", "Driver": "overlay"}) == (
        "ov2", {"kind": "overlay", "subnet": "198.19.2.0/24"}  # 198.19.0 is docker0's, 198.19.1 ov's
    )  # fmt: skip
    given = {"Name": "ov3", "Driver": "overlay", "IPAM": {"Config": [{"Subnet": "10.9.0.0/24"}]}}
    assert network_from_create(LAB, given)[1]["subnet"] == "10.9.0.0/24"
    with pytest.raises(Refused, match="already exists"):
        network_from_create(LAB, {"Name": "ov", "Driver": "overlay"})
    with pytest.raises(Refused, match="one bridge network each"):
        network_from_create(LAB, {"Name": "mine", "Driver": "bridge"})


def test_the_line_of_each_demo_container_makes_that_container_again():
    doc = parse_document(yaml.safe_load((DEMOS / "docker-modes.yaml").read_text()))
    for name, node in doc.nodes.items():
        if node.kind != "container":
            continue
        body = _as_the_cli_sends(run_line(name, node))
        again = node_from_create(doc, node.host, name, body)
        assert again["mode"] == node.mode, name
        assert again.get("ports", []) == [str(p.short()) if p.container is None or p.host != "auto"
                                          else f"auto:{p.container}" for p in node.ports], name  # fmt: skip
        assert again["command"] == (
            ["sh", "-c", node.command] if isinstance(node.command, str) else node.command
        )
    script = docker_script(doc)
    assert script.count("docker network create -d overlay --subnet 198.19.128.0/24 ov") == 1
    assert "# on h1" in script and "# on h2" in script


def _as_the_cli_sends(line: str) -> dict:
    """The create body the docker CLI sends for the run lines Wirelab writes (their flags only)."""
    import shlex

    words = shlex.split(line)[3:]
    body: dict = {"HostConfig": {"PortBindings": {}}, "ExposedPorts": {}}
    while words[0].startswith("-"):
        flag = words.pop(0)
        if flag == "--name":
            words.pop(0)
        elif flag.startswith("--network="):
            body["HostConfig"]["NetworkMode"] = flag.split("=", 1)[1]
        elif flag == "-p":
            host, _, container = words.pop(0).rpartition(":")
            key = container if "/" in container else f"{container}/tcp"
            body["ExposedPorts"][key] = {}
            body["HostConfig"]["PortBindings"][key] = [{"HostIp": "", "HostPort": host}]
        elif flag == "--expose":
            body["ExposedPorts"][f"{words.pop(0)}/tcp"] = {}
        elif flag == "-P":
            body["HostConfig"]["PublishAllPorts"] = True
    body["Image"], body["Cmd"] = words[0], words[1:]
    return body
