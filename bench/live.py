"""Latency from a netlink change to the WebSocket message, and the message rate a browser
gets under heavy flapping, with the real monitor, Redis channel layer and consumer.

Each lab is two routers joined by one cable; a flap pulls or plugs it in the fabric.
With --viewers N, read-only view sockets of one share link (1, then N) watch one lab while
its cable flaps: latency to the viewers, whether every viewer ends with every state (a gap
in the sequence numbers must be healed by a snapshot), and how soon a revoke closes them.
Usage: .venv/bin/python -m bench.live [--labs 1,10,50] [--flaps 20] [--viewers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time

import redis

SERVER = os.environ.get("BENCH_POSTGRES", "postgres://wirelab:wirelab@127.0.0.1:5432")
BENCH_DB = "wirelab_bench"


def _admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/wirelab", autocommit=True) as conn:
        conn.execute(sql)


def setup_django() -> None:
    """A scratch PostgreSQL database (make test's server), so the user's own stays untouched."""
    _admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
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


def fabric_cable(lab, end: str = "a:eth1") -> str:
    """The cable's name in the lab's fabric, from the spec its last deploy converged to."""
    from labs.models import Operation

    deployed = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED).first()
    return deployed.spec["cables"][end]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def run(count: int, flaps: int, user) -> dict:
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from config.routing import websocket_urlpatterns
    from tests.labs.live_helpers import deploy
    from worker.converge import destroy
    from worker.live.controls import set_cable

    labs, clients = [], []
    try:
        for i in range(count):
            labs.append(await sync_to_async(deploy)(PAIR.format(name=f"live-{count}-{i}"), user))
        cables = {lab.tag: await sync_to_async(fabric_cable)(lab) for lab in labs}
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
                await asyncio.to_thread(set_cable, lab.tag, cables[lab.tag], plugged)
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
            await asyncio.to_thread(set_cable, lab.tag, cables[lab.tag], flapped % 2 == 1)
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
            await asyncio.to_thread(destroy, lab.tag, lab.labhost)


class Viewer:
    """One view socket: its sequence numbers, gaps and the time each flap reached it."""

    def __init__(self, ws):
        self.ws, self.seq, self.gaps, self.healed = ws, 0, 0, 0
        self.seen: dict[str, float] = {}  # "up"/"down" -> when the last such change came
        self.closed_at: float | None = None

    async def read(self) -> None:
        while True:
            output = await self.ws.receive_output(timeout=600)
            if output["type"] == "websocket.close":
                self.closed_at = time.perf_counter()
                return
            message = json.loads(output["text"])
            if message["type"] == "snapshot":
                self.healed += self.gaps > self.healed
                self.seq = message["seq"]
            elif message["type"] == "events" and message["seq"] > self.seq:
                if message["seq"] != self.seq + 1:
                    self.gaps += 1
                    await self.ws.send_json_to({"type": "snapshot"})
                    continue
                self.seq = message["seq"]
                for event in message["events"]:
                    if event["type"] == "link.state" and event["node"] == "a":
                        self.seen[event["oper"]] = time.perf_counter()


async def run_viewers(count: int, flaps: int, user) -> dict:
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.testing import WebsocketCommunicator

    from config.routing import websocket_urlpatterns
    from labs import sharing
    from labs.live.state import state_key
    from tests.labs.live_helpers import deploy
    from worker.converge import destroy
    from worker.live.controls import set_cable

    lab = await sync_to_async(deploy)(PAIR.format(name=f"viewed-{count}"), user)
    link, token = await sync_to_async(sharing.create_link)(lab, user)
    cable = await sync_to_async(fabric_cable)(lab)
    viewers, readers = [], []
    try:
        for _ in range(count):
            ws = WebsocketCommunicator(URLRouter(websocket_urlpatterns), "/ws/shared/")
            await ws.connect()
            await ws.send_json_to({"type": "join", "token": token})
            assert (await ws.receive_json_from(timeout=30))["type"] == "joined"
            viewers.append(Viewer(ws))
        readers = [asyncio.ensure_future(v.read()) for v in viewers]
        await asyncio.sleep(2)
        latencies = []
        for round_ in range(flaps):
            want = "up" if round_ % 2 == 1 else "down"
            for v in viewers:
                v.seen.pop(want, None)
            await asyncio.to_thread(set_cable, lab.tag, cable, want == "up")
            start = time.perf_counter()  # the kernel has made the change by now
            while any(want not in v.seen for v in viewers) and time.perf_counter() < start + 30:
                await asyncio.sleep(0.005)
            latencies += [(v.seen[want] - start) * 1000 for v in viewers if want in v.seen]
            await asyncio.sleep(0.3)
        await asyncio.sleep(2)  # the last snapshots asked for arrive
        client = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
        final = int(client.hget(state_key(lab.tag), "seq") or 0)
        client.close()
        revoked = time.perf_counter()
        await sync_to_async(sharing.revoke)(link)
        await asyncio.wait_for(asyncio.gather(*readers), timeout=60)
        closes = [(v.closed_at - revoked) * 1000 for v in viewers]
        return {
            "viewers": count, "samples": len(latencies), "expected": count * flaps,
            "p50_ms": statistics.median(latencies), "p95_ms": percentile(latencies, 95),
            "gaps": sum(v.gaps for v in viewers), "healed": sum(v.healed for v in viewers),
            "behind": sum(1 for v in viewers if v.seq != final),
            "close_p50_ms": statistics.median(closes), "close_max_ms": max(closes),
        }  # fmt: skip
    finally:
        for task in readers:
            task.cancel()
        for v in viewers:
            await v.ws.disconnect()
        await asyncio.to_thread(destroy, lab.tag, lab.labhost)


def report_viewers(counts: tuple[int, int], flaps: int, user) -> None:
    rows = [asyncio.run(run_viewers(n, flaps, user)) for n in counts]
    for row in rows:
        print(
            f"{row['viewers']:4} viewer(s), {flaps} flaps: {row['samples']}/{row['expected']} changes seen, "
            f"p50 {row['p50_ms']:.1f} ms, p95 {row['p95_ms']:.1f} ms; gaps {row['gaps']} "
            f"(healed {row['healed']}), behind at the end {row['behind']}; "
            f"revoke closed all in p50 {row['close_p50_ms']:.0f} ms, max {row['close_max_ms']:.0f} ms",
            flush=True,
        )
    print(f"p50 latency, {counts[1]} viewers against 1: {rows[1]['p50_ms'] / rows[0]['p50_ms']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labs", default="1,10,50")
    parser.add_argument("--flaps", type=int, default=20)
    parser.add_argument("--viewers", type=int, default=0, help="view sockets on one lab (0: labs only)")
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    # every viewer here comes from one address
    os.environ.setdefault("WIRELAB_VIEWERS_PER_ADDRESS", str(max(100, args.viewers)))
    os.environ.setdefault("WIRELAB_SHARE_USE_RATE", f"{max(120, 2 * args.viewers)}/minute")
    setup_django()
    from django.contrib.auth import get_user_model

    from labs.hostside.monitor import MonitorService

    user = get_user_model().objects.create_user("bench", is_staff=True)  # staff: no quota on running labs
    service = MonitorService()
    service.start()
    try:
        if args.viewers:
            return report_viewers((1, args.viewers), args.flaps, user)
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
        _admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")  # threads may hold connections


if __name__ == "__main__":
    main()
