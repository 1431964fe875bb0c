"""The real `docker` CLI typed inside an emulated Docker host of a deployed lab: the lab host's
Engine API turns each call into an edit of the lab, converged at once, and answers as dockerd."""

import json

import pytest

from labs.store.documents import lab_document
from tests.waiting import wait_for

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True)]

TWO_HOSTS = """
name: typed
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
  ov: {kind: overlay, subnet: 198.19.128.0/24}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}}
  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.12/24}}}
  client: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.100/24}}}
"""


def docker_in(run_in, tag):
    def run(node: str, command: str) -> tuple[int, str]:
        return run_in(tag, node, f"timeout 120 docker {command} 2>&1")

    return run


def fetch(run_in, tag, url):
    return run_in(tag, "client", f"timeout 5 wget -qO- {url} 2>&1")


def test_the_primers_commands_typed_on_two_hosts(monitor, labs_up, user, run_in):
    lab = labs_up(TWO_HOSTS, user)
    docker = docker_in(run_in, lab.tag)
    assert wait_for(lambda: docker("h1", "version")[0] == 0, 60, "h1's Docker socket answering")
    code, out = docker("h1", "version --format '{{.Server.APIVersion}} {{.Server.Platform.Name}}'")
    assert (code, out.strip()) == (0, "1.41 Wirelab Docker host h1"), out

    # host mode, and the clash the primer describes
    code, out = docker("h1", "run -d --name nginx-1 --net=host nginx")
    assert code == 0, out
    container_id = out.strip().splitlines()[-1]
    assert len(container_id) == 64
    code, out = docker("h1", "run -d --name nginx-1b --net=host nginx")
    assert code == 0, out
    # bridge mode with a published port, and one the host chooses
    assert docker("h1", "run -d --name nginx-2 -p 10000:80 nginx")[0] == 0
    assert docker("h2", "run -d --name nginx-3 -p 80 nginx")[0] == 0

    doc = lab_document(type(lab).objects.get(id=lab.id))
    assert doc.nodes["nginx-1"].host == "h1" and doc.nodes["nginx-1"].mode == "host"
    assert doc.nodes["nginx-2"].mode == "bridge" and doc.nodes["nginx-3"].host == "h2"

    assert "Welcome to nginx" in fetch(run_in, lab.tag, "http://198.18.0.11/")[1]
    assert "Welcome to nginx" in fetch(run_in, lab.tag, "http://198.18.0.11:10000/")[1]
    code, out = docker("h2", "port nginx-3")
    assert code == 0 and out.startswith("80/tcp -> 0.0.0.0:"), out
    chosen = out.strip().rsplit(":", 1)[1]
    assert "Welcome to nginx" in fetch(run_in, lab.tag, f"http://198.18.0.12:{chosen}/")[1]

    # the second host-mode nginx exited, and says why
    wait_for(lambda: "Exited (1)" in docker("h1", "ps -a --filter name=nginx-1b")[1], 60, "nginx-1b exited")
    assert "Address already in use" in docker("h1", "logs nginx-1b")[1]
    code, out = docker("h1", "ps --format '{{.ID}} {{.Names}} {{.Image}} {{.Ports}} {{.Status}}'")
    rows = {line.split()[1]: line for line in out.strip().splitlines()}
    assert set(rows) == {"nginx-1", "nginx-2"}, out  # h2's are not h1's; nginx-1b has exited
    assert container_id.startswith(rows["nginx-1"].split()[0])
    assert "0.0.0.0:10000->80/tcp" in rows["nginx-2"] and " Up " in rows["nginx-2"], out

    # inspect and exec
    code, out = docker("h1", "inspect nginx-2")
    shown = json.loads(out)[0]
    assert shown["Name"] == "/nginx-2" and shown["Config"]["Image"] == "nginx"
    assert shown["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "10000"}]}
    assert (
        docker("h1", "exec nginx-2 cat /usr/share/html/index.html")[1].strip() == "<h1>Welcome to nginx!</h1>"
    )

    # refused as dockerd refuses, and nothing changed
    code, out = docker("h1", "run -d --name nginx-2c -p 10000:80 nginx")
    assert code != 0 and "Bind for 0.0.0.0:10000 failed: port is already allocated" in out, out
    code, out = docker("h1", "run -d --name nginx-2 nginx")
    assert code != 0 and 'The container name "/nginx-2" is already in use' in out, out
    assert "nginx-2c" not in lab_document(type(lab).objects.get(id=lab.id)).nodes

    # removed again: from the lab and from the engine
    assert docker("h1", "rm -f nginx-2")[0] == 0
    assert "nginx-2" not in lab_document(type(lab).objects.get(id=lab.id)).nodes
    assert "nginx-2" not in docker("h1", "ps -a")[1]
    assert docker("h1", "logs nginx-2")[0] != 0
