"""Latency from a netlink change to the WebSocket message, and the message rate a browser
gets under heavy flapping, with the real monitor, Redis channel layer and consumer.

Each lab is two routers joined by one cable; a flap pulls or plugs it in the fabric.
Usage: .venv/bin/python -m bench.live [--labs 1,10,50] [--flaps 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

SERVER = os.environ.get("BENCH_POSTGRES", "postgres://wirelab:wirelab@127.0.0.1:5432")
BENCH_DB = "wirelab_bench"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/wirelab", autocommit=True) as conn:
        conn.execute(sql)


def setup_django() -> None:
    """A scratch PostgreSQL database (make test's server), so the user's own stays untouched."""
    _admin(f"DROP DATABASE IF EXISTS {BENCH_DB}")
    _admin(f"CREATE DATABASE {BENCH_DB}")
    os.environ["DATABASE_URL"] = f"{SERVER}/{BENCH_DB}"
    os.environ["WIRELAB_STATE_DIR"] = tempfile.mkdtemp(prefix="wirelab-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


PAIR = """
name: {name}
nodes:
  a: {{kind: router}}
  b: {{kind: router}}
links:
  - {{endpoints: [a:eth1, b:eth1], subnet: 198.18.30.0/30}}
"""


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run(count: int, flaps: int, user) -> dict:
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from labs.routing import websocket_urlpatterns
    from tests.labs.live_helpers import deploy
    from worker.converge import destroy
    from worker.live.controls import set_cable

    labs, clients = [], []
    try:
        for i in range(count):
            labs.append(await sync_to_async(deploy)(PAIR.format(name=f"live-{count}-{i}"), user))
        for lab in labs:
            ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/labs/{lab.id}/")
            ws.scope["user"] = user
            await ws.connect()
            await ws.receive_json_from(timeout=10)
            clients.append(ws)
        await asyncio.sleep(2)
        for ws in clients:  # drop what came while settling
            while not await ws.receive_nothing(timeout=0.05):
                await ws.receive_output()

        latencies = []
        for round_ in range(flaps):
            plugged = round_ % 2 == 1
            want = "up" if plugged else "down"
            for lab, ws in zip(labs, clients, strict=True):
                await asyncio.to_thread(set_cable, lab.uid, "a", "eth1", plugged)
                start = time.perf_counter()  # the kernel has made the change by now
                while True:
                    message = await ws.receive_json_from(timeout=5)
                    if any(e["type"] == "link.state" and e["node"] == "a" and e["oper"] == want
                           for e in message.get("events", [])):  # fmt: skip
                        latencies.append((time.perf_counter() - start) * 1000)
                        break
            await asyncio.sleep(0.3)  # a quiet spell between rounds, as a person clicking would leave

        # Heavy flapping of one lab: how many messages reach its browser each second?
        ws, lab = clients[0], labs[0]
        received, stop_at = 0, time.perf_counter() + 5

        async def listen():
            nonlocal received
            while time.perf_counter() < stop_at + 0.5:
                if not await ws.receive_nothing(timeout=0.05):
                    await ws.receive_output()
                    received += 1

        listener = asyncio.ensure_future(listen())
        flapped = 0
        while time.perf_counter() < stop_at:
            await asyncio.to_thread(set_cable, lab.uid, "a", "eth1", flapped % 2 == 1)
            flapped += 1
        await listener
        return {
            "labs": count,
            "p50_ms": statistics.median(latencies),
            "p95_ms": percentile(latencies, 95),
            "samples": len(latencies),
            "heavy_flaps_per_s": flapped / 5,
            "messages_per_s": received / 5.5,
        }
    finally:
        for ws in clients:
            await ws.disconnect()
        for lab in labs:
            await asyncio.to_thread(destroy, lab.uid, lab.labhost)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labs", default="1,10,50")
    parser.add_argument("--flaps", type=int, default=20)
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    setup_django()
    from django.contrib.auth import get_user_model

    from labs.live.service import MonitorService

    user = get_user_model().objects.create_user("bench")
    service = MonitorService()
    service.start()
    try:
        print(f"{'labs':>5} {'p50 ms':>8} {'p95 ms':>8} {'samples':>8}   {'flaps/s':>8} {'msgs/s':>7}")
        for count in (int(c) for c in args.labs.split(",")):
            row = asyncio.run(run(count, args.flaps, user))
            print(
                f"{row['labs']:5} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f} {row['samples']:8}   "
                f"{row['heavy_flaps_per_s']:8.0f} {row['messages_per_s']:7.1f}",
                flush=True,
            )
    finally:
        service.stop()
        from django.db import connections

        connections.close_all()
        _admin(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
