"""The real `docker` CLI typed inside an emulated Docker host of a deployed lab: the lab host's
Engine API turns each call into an edit of the lab, converged at once, and answers as dockerd."""

import json

import pytest

from labs.classroom import attempts
from labs.hostside.jobs import carry_out
from labs.store.documents import lab_document
from tests.labs.live_helpers import connect, read_until, run_sync
from tests.labs.test_classroom_checks import SOLUTIONS, deployed
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
    capabilities = "grep CapEff /proc/self/status"  # --privileged gets no more than the container has
    plain = docker("h1", f"exec nginx-2 {capabilities}")[1]
    assert (
        plain.startswith("CapEff") and docker("h1", f"exec --privileged nginx-2 {capabilities}")[1] == plain
    )

    # refused as dockerd refuses, and nothing changed
    code, out = docker("h1", "run -d --name nginx-2c -p 10000:80 nginx")
    assert code != 0 and "Bind for 0.0.0.0:10000 failed: port is already allocated" in out, out
    code, out = docker("h1", "run -d caddy")
    assert code != 0 and "Unable to find image 'caddy:latest' locally" in out, out
    assert "pull access denied for caddy" in out and "not allowed on this installation" in out, out
    code, out = docker("h1", "run -d --name nginx-2 nginx")
    assert code != 0 and 'The container name "/nginx-2" is already in use' in out, out
    assert "nginx-2c" not in lab_document(type(lab).objects.get(id=lab.id)).nodes

    # in the foreground: its output, and with --rm it leaves the lab once it ends
    code, out = docker("h1", "run --rm --name once wirelab/node:busybox echo hello-from-run")
    assert (code, out.strip()) == (0, "hello-from-run"), out
    assert wait_for(
        lambda: "once" not in lab_document(type(lab).objects.get(id=lab.id)).nodes, 60, "once gone"
    )
    code, out = docker("h1", "run -i wirelab/node:busybox sh")  # -t needs a terminal here
    assert code != 0 and "docker exec -it" in out, out

    # kill sends SIGKILL, as dockerd's does: the container exits 137; again, it is not running
    assert docker("h1", "kill nginx-1")[0] == 0

    def status_of(name: str) -> str:
        listed = docker("h1", "ps -a --format '{{.Names}}|{{.Status}}'")[1].splitlines()
        return next((line.split("|")[1] for line in listed if line.split("|")[0] == name), "")

    assert wait_for(lambda: status_of("nginx-1").startswith("Exited (137)"), 60, "nginx-1 killed")
    code, out = docker("h1", "kill nginx-1")
    assert code != 0 and "is not running" in out, out

    # removed again: from the lab and from the engine
    assert docker("h1", "rm -f nginx-2")[0] == 0
    assert "nginx-2" not in lab_document(type(lab).objects.get(id=lab.id)).nodes
    assert "nginx-2" not in docker("h1", "ps -a")[1]
    assert docker("h1", "logs nginx-2")[0] != 0


@pytest.mark.asyncio
async def test_typed_in_consoles_an_overlay_and_a_dynamic_port(monitor, console_relay, labs_up, user, run_in):
    lab = await run_sync(labs_up, TWO_HOSTS, user)
    docker = docker_in(run_in, lab.tag)
    await run_sync(wait_for, lambda: docker("h2", "version")[0] == 0, 60, "h2's Docker socket answering")

    async def typed(node: str, line: str) -> str:
        """`line` typed in the node's console, as a user would; what it printed."""
        ws = await connect(f"/ws/labs/{lab.id}/nodes/{node}/console/", user)
        assert (await ws.connect())[0]
        await ws.send_to(bytes_data=f"{line}; echo DONE-$?-EN''OD\n".encode())
        seen = await read_until(ws, b"-ENOD\n", timeout=120)  # not in the echo of the line typed
        await ws.disconnect()
        return seen.replace(b"\r", b"").decode(errors="replace")

    said = await typed("h1", "docker network create -d overlay --subnet 198.19.200.0/24 ov2")
    assert "DONE-0-ENOD" in said, said
    assert "DONE-0-ENOD" in await typed(
        "h1", "docker run -d --name app-1 --network ov2 wirelab/node:busybox sleep 3600"
    )
    assert "DONE-0-ENOD" in await typed(
        "h2", "docker run -d --name app-2 --network ov2 wirelab/node:busybox sleep 3600"
    )
    said = await typed("h2", "docker run -d --name app-dyn --net=host -P wirelab/app")
    assert "DONE-0-ENOD" in said, said

    doc = await run_sync(lambda: lab_document(type(lab).objects.get(id=lab.id)))
    assert doc.networks["ov2"].kind == "overlay" and doc.nodes["app-2"].mode == "overlay:ov2"

    # the overlay joins the two hosts' containers
    code, out = docker("h1", "inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' app-1")
    assert code == 0 and out.strip().startswith("198.19.200."), out
    code, out = docker("h2", f"exec app-2 ping -c 2 -W 5 {out.strip()}")
    assert code == 0, out
    listed = docker("h2", "network ls --format '{{.Name}} {{.Driver}} {{.Scope}}'")[1].split("\n")
    assert "ov2 overlay swarm" in listed and "bridge bridge local" in listed
    code, out = docker("h2", "network inspect -f '{{range .Containers}}{{.Name}} {{end}}' ov2")
    assert out.split() == ["app-2"], out  # h1's app-1 is h1's, as in swarm
    code, out = docker("h1", "network rm ov2")
    assert code != 0 and "has active endpoints" in out, out

    # the dynamic port: handed out from h2's range as PORT0, and served there
    code, out = docker("h2", "inspect -f '{{range .Config.Env}}{{println .}}{{end}}' app-dyn")
    port = next(line.split("=")[1] for line in out.split() if line.startswith("PORT0="))
    assert 31000 <= int(port) <= 31999
    assert wait_for(lambda: "app" in fetch(run_in, lab.tag, f"http://198.18.0.12:{port}/")[1], 60, "app-dyn")


def test_the_typed_exercise_passes_once_its_solution_is_typed(
    monitor, demo_course, student, labs_made, run_in
):
    attempt, op = attempts.start(demo_course.exercises.get(order=5), student, enqueue=False)
    labs_made.append(attempt.lab)
    before = deployed(op, attempt)
    assert not any(passed for passed, _ in before.values()), before  # an empty Docker host

    docker = docker_in(run_in, attempt.lab.tag)
    assert wait_for(lambda: docker("h1", "version")[0] == 0, 60, "h1's Docker socket answering")
    for line in (SOLUTIONS / "5-typed.sh").read_text().splitlines():
        if line.startswith("docker "):
            code, out = docker("h1", line.removeprefix("docker "))
            assert code == 0, out
    wait_for(lambda: "Exited" in docker("h1", "ps -a --filter name=nginx-1b")[1], 60, "nginx-1b exited")
    check = attempts.request_check(attempt, student, enqueue=False)  # or the one a deploy queued
    assert carry_out(check.id).status == "succeeded"
    attempt.refresh_from_db()
    assert all(r["passed"] for r in attempt.results), attempt.results
    assert attempt.score == 1
