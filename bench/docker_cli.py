"""The lab's Docker API as a learner feels it: `docker run -d` typed in an emulated Docker host,
how long the command takes, and how long after it returns the container is on the diagram (the
lab socket has said the document changed) and running there (its node state). The floor: the
same `docker run -d` on this machine's own Docker engine, in the same run.

Each round runs `docker run -d --name web-N -p PORT:80 nginx` (bridge mode, a published port)
on h1, then `docker rm -f web-N`, with the lab host's monitor in this process.
Usage: .venv/bin/python -m bench.docker_cli [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

from bench.live import percentile, setup_django

LAB = """
name: docker-cli-bench
networks:
  lan: {kind: segment, subnet: 198.18.0.0/24}
nodes:
  h1: {kind: host, interfaces: {eth0: {network: lan, address: 198.18.0.11/24}}}
"""


def typed(container, line: str) -> tuple[float, str]:
    """`line` run in h1 (as its console would), and how long it took."""
    start = time.perf_counter()
    result = container.exec_run(["sh", "-c", line])
    took = time.perf_counter() - start
    if result.exit_code != 0:
        raise RuntimeError(f"{line}: {result.output.decode(errors='replace')}")
    return took, result.output.decode()


async def drawn_and_running(ws, name: str) -> None:
    """Until the socket has said the document changed and the container runs."""
    changed = running = False
    while not (changed and running):
        message = await ws.receive_json_from(timeout=60)
        for event in message.get("events", []):
            changed = changed or event["type"] == "lab.document"
            running = running or (event["type"] == "node.state" and event.get("node") == name
                                  and event.get("state") == "running")  # fmt: skip


async def run(rounds: int, user, service) -> dict:
    import docker
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from config.routing import websocket_urlpatterns
    from tests.labs.live_helpers import deploy
    from worker.converge import destroy
    from worker.labels import container_name

    client = docker.from_env()
    lab = None
    try:
        lab = await sync_to_async(deploy)(LAB, user)
        h1 = client.containers.get(container_name(lab.tag, "h1"))
        for _ in range(600):  # the socket is bound by the monitor's next discovery turn
            if h1.exec_run(["docker", "version"]).exit_code == 0:
                break
            await asyncio.sleep(0.1)
        ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/labs/{lab.id}/")
        ws.scope["user"] = user
        await ws.connect()
        await ws.receive_json_from(timeout=10)  # the snapshot
        calls, after, removals, floor = [], [], [], []
        for i in range(rounds):
            name = f"web-{i}"
            took, _ = await asyncio.to_thread(
                typed, h1, f"docker run -d --name {name} -p {10000 + i}:80 nginx"
            )
            returned = time.perf_counter()
            await drawn_and_running(ws, name)
            calls.append(took * 1000)
            after.append((time.perf_counter() - returned) * 1000)
            took, _ = await asyncio.to_thread(typed, h1, f"docker rm -f {name}")
            removals.append(took * 1000)
            floor.append(await asyncio.to_thread(_on_the_machine, i))
        await ws.disconnect()
        return {
            "rounds": rounds,
            "run_p50_ms": statistics.median(calls),
            "run_p95_ms": percentile(calls, 95),
            "drawn_and_running_after_return_p50_ms": statistics.median(after),
            "drawn_and_running_after_return_p95_ms": percentile(after, 95),
            "rm_f_p50_ms": statistics.median(removals),
            "machine_docker_run_p50_ms": statistics.median(floor),
            "run_vs_machine": statistics.median(calls) / statistics.median(floor),
        }
    finally:
        if lab is not None:
            await asyncio.to_thread(destroy, lab.tag, lab.labhost)
        client.close()


def _on_the_machine(i: int) -> float:
    """The floor: `docker run -d` of the same image on this machine's engine, then removed."""
    name = f"wirelab-bench-floor-{i}"
    start = time.perf_counter()
    subprocess.run(["docker", "run", "-d", "--name", name, "wirelab/nginx"], check=True, capture_output=True)
    took = (time.perf_counter() - start) * 1000
    subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
    return took


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model

    from labs.hostside.monitor import MonitorService

    user = get_user_model().objects.create_user("bench")
    service = MonitorService(tick=0.5)
    service.start()
    try:
        result = asyncio.run(run(args.rounds, user, service))
    finally:
        service.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
