"""The lab's orchestrator as a learner meets it: an app posted to http://marathon:8080 from a node
of a running lab (three agents), and the time until every instance passes its HTTP health
check, for 3 and for 30 instances; then an instance's container killed (as a crash) and the time
until it answers again. The floors, in the same run: starting as many containers with this
machine's own `docker run -d`, and `docker restart` of one.

Usage: .venv/bin/python -m bench.orchestrator [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time

from bench.live import setup_django

LAB = """
name: orchestrator-bench
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
orchestrator: {agents: [h1, h2, h3]}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}}
  h2: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.12/24}}}
  h3: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.13/24}}}
  client: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.100/24}}}
"""
SERVE = "mkdir -p /www && echo $MESOS_TASK_ID > /www/index.html && exec httpd -f -p $PORT0 -h /www"


def app(instances: int) -> dict:
    return {
        "id": "/web", "cmd": SERVE, "instances": instances, "portDefinitions": [{"port": 0}],
        "container": {"docker": {"image": "wirelab/node:busybox", "network": "HOST"}},
        "healthChecks": [{"protocol": "HTTP", "path": "/", "intervalSeconds": 2, "timeoutSeconds": 2,
                          "gracePeriodSeconds": 0}],
    }  # fmt: skip


def in_client(client, line: str) -> str:
    result = client.exec_run(["sh", "-c", line])
    if result.exit_code != 0:
        raise RuntimeError(f"{line}: {result.output.decode(errors='replace')}")
    return result.output.decode()


def post(client, body: dict) -> None:
    data = shlex.quote(json.dumps(body))
    in_client(client, f"wget -qO- --header 'Content-Type: application/json' --post-data {data} "
                      "http://marathon:8080/v2/apps")  # fmt: skip


def healthy(service, tag: str, instances: int) -> bool:
    return all(service.healer.healthy(tag, f"web.{i}") for i in range(1, instances + 1))


def posted_until_healthy(service, lab, client, instances: int) -> float:
    start = time.perf_counter()
    post(client, app(instances))
    while not healthy(service, lab.tag, instances):
        if time.perf_counter() - start > 600:
            raise RuntimeError(f"{instances} instances not healthy within 600 s")
        time.sleep(0.05)
    took = time.perf_counter() - start
    _removed(service, lab)
    return took


def _removed(service, lab) -> None:
    """The app taken out through the document (busybox's wget speaks no DELETE), and the upkeep's
    health records of it gone, so the next round starts from nothing."""
    from labs.store.documents import edit_document

    changes = service.healer.changes
    with changes.lock(lab):
        edit_document(lab, lambda data: data.get("apps", {}).clear())
        changes.converge(lab)
    while service.healer.health.get(lab.tag):
        time.sleep(0.1)


def killed_until_answering(engine, lab, client) -> float:
    from worker.labels import container_name

    container = engine.containers.get(container_name(lab.tag, "web.2"))
    port = json.loads(in_client(client, "wget -qO- http://marathon:8080/v2/apps/web/tasks"))
    port = next(t["ports"][0] for t in port["tasks"] if t["id"] == "web.2")
    host = next(t["host"] for t in json.loads(in_client(client, "wget -qO- http://marathon:8080/v2/tasks"))["tasks"]
                if t["id"] == "web.2")  # fmt: skip
    start = time.perf_counter()
    container.kill()
    while (
        client.exec_run(["sh", "-c", f"wget -qO- http://{host}:{port}/"]).output.decode().strip() != "web.2"
    ):
        if time.perf_counter() - start > 300:
            raise RuntimeError("web.2 did not come back within 300 s")
        time.sleep(0.05)
    return time.perf_counter() - start


def machine_floor(instances: int) -> float:
    """`docker run -d` of as many containers on this machine's engine, one after the other."""
    names = [f"wirelab-bench-orch-{i}" for i in range(instances)]
    start = time.perf_counter()
    for name in names:
        subprocess.run(["docker", "run", "-d", "--name", name, "wirelab/node:busybox", "sleep", "3600"],
                       check=True, capture_output=True)  # fmt: skip
    took = time.perf_counter() - start
    subprocess.run(["docker", "rm", "-f", *names], check=True, capture_output=True)
    return took


def machine_restart() -> float:
    name = "wirelab-bench-orch-restart"
    subprocess.run(["docker", "run", "-d", "--name", name, "wirelab/node:busybox", "sleep", "3600"],
                   check=True, capture_output=True)  # fmt: skip
    try:
        subprocess.run(["docker", "kill", name], check=True, capture_output=True)
        start = time.perf_counter()
        subprocess.run(["docker", "start", name], check=True, capture_output=True)
        return time.perf_counter() - start
    finally:
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)


def run(rounds: int, user, service) -> dict:
    import docker

    from tests.labs.live_helpers import deploy
    from worker.converge import destroy
    from worker.labels import container_name

    engine = docker.from_env()
    lab = deploy(LAB, user)
    try:
        client = engine.containers.get(container_name(lab.tag, "client"))
        for _ in range(600):  # the API's socket is made by the monitor's next discovery turn
            if client.exec_run(["sh", "-c", "wget -qO- http://marathon:8080/ping"]).output.strip() == b"pong":
                break
            time.sleep(0.1)
        out: dict = {"rounds": rounds}
        for instances in (3, 30):
            took = [posted_until_healthy(service, lab, client, instances) for _ in range(rounds)]
            floor = [machine_floor(instances) for _ in range(rounds)]
            out[f"post_to_all_healthy_{instances}_p50_s"] = round(statistics.median(took), 2)
            out[f"machine_docker_run_{instances}_p50_s"] = round(statistics.median(floor), 2)
            out[f"post_to_all_healthy_{instances}_vs_machine"] = round(
                statistics.median(took) / statistics.median(floor), 2
            )
        back = []
        for _ in range(rounds):
            post(client, app(3))
            while not healthy(service, lab.tag, 3):
                time.sleep(0.05)
            back.append(killed_until_answering(engine, lab, client))
            _removed(service, lab)
            time.sleep(5)  # past the upkeep's backoff after its last heal
        restart = [machine_restart() for _ in range(rounds)]
        out["killed_to_answering_p50_s"] = round(statistics.median(back), 2)
        out["machine_docker_start_p50_s"] = round(statistics.median(restart), 2)
        return out
    finally:
        type(lab).objects.filter(id=lab.id).update(status="stopped")  # the upkeep heals it no more
        destroy(lab.tag, lab.labhost)
        engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model

    from labs.hostside.monitor import MonitorService

    user = get_user_model().objects.create_user("bench")
    service = MonitorService(tick=0.5)
    service.start()
    try:
        result = run(args.rounds, user, service)
    finally:
        service.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
