"""One student flooding the lab host, another working: how much slower do the other's deploy
and cable pull get?

A real installation is started as `make run` starts it (daphne, the lab host's two workers,
the live monitor) on a scratch PostgreSQL database. Bob deploys a 10-host lab and pulls a
cable, first alone, then while Mallory, with a running lab of her own, floods everything a
student can: packet captures, node restarts, snapshot requests over many WebSockets, and
consoles running `yes`. Reported: medians of each, and the ratio loaded/alone (the aim: 2x
at most). Mallory's refused requests (429) are counted too.

Usage: .venv/bin/python -m bench.flood [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import requests

from bench.live import BENCH_DB, _admin, setup_django
from tests.ports import free_port

STAR = "name: {name}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.{net}.0/24}}\nnodes:\n{hosts}"


def star(name: str, n: int, net: int) -> str:
    hosts = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return STAR.format(name=name, net=net, hosts=hosts)


PAIR = """name: {name}
nodes:
  a: {{kind: router}}
  b: {{kind: router}}
links:
  - {{endpoints: [a:eth1, b:eth1], subnet: 198.18.40.0/30}}
"""


class Installation:
    """daphne and a lab host (its two workers and the monitor), as `make run` starts them."""

    def __init__(self, state: Path):
        self.queue = f"bench-{uuid.uuid4().hex[:6]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, WIRELAB_LABHOST=self.queue)
        py, q = sys.executable, self.queue
        commands = {
            "web": [py, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            "labhost": [py, "manage.py", "labhost", "run", "--name", q, "--log-dir", str(state)],
        }  # fmt: skip
        self.processes = [
            subprocess.Popen(command, env=env, stdout=open(state / f"{name}.log", "w"),  # noqa: SIM115
                             stderr=subprocess.STDOUT, start_new_session=True)
            for name, command in commands.items()
        ]  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/health/?format=json", timeout=2).ok:
                    return
            time.sleep(0.5)
        self.stop()  # what did start must not outlive the benchmark
        raise SystemExit("the installation did not start; see the logs in " + str(state))

    def stop(self) -> None:
        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Student:
    """A user's API token and session cookie (for the WebSockets)."""

    def __init__(self, base: str, token: str, cookie: str):
        self.base, self.token, self.cookie = base, token, cookie
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Token {token}"
        self.refused = 0

    @classmethod
    def new(cls, name: str, base: str) -> Student:
        from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
        from django.contrib.sessions.backends.db import SessionStore
        from rest_framework.authtoken.models import Token

        user = get_user_model().objects.create_user(name, password=uuid.uuid4().hex)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        return cls(base, Token.objects.create(user=user).key, f"sessionid={session.session_key}")

    def post(self, path: str, body: dict | None = None) -> requests.Response:
        response = self.http.post(f"{self.base}{path}", json=body or {}, timeout=30)
        if response.status_code == 429:
            self.refused += 1
        return response

    def get(self, path: str):
        return self.http.get(f"{self.base}{path}", timeout=30).json()

    def new_lab(self, text: str) -> int:
        response = self.http.post(f"{self.base}/api/labs/import/", data=text.encode(),
                                  headers={"Content-Type": "application/yaml"}, timeout=30)  # fmt: skip
        response.raise_for_status()
        return response.json()["id"]

    def wait_operation(self, op_id: int, lab: int, ceiling: float = 300) -> dict:
        deadline = time.monotonic() + ceiling
        while time.monotonic() < deadline:
            for op in self.get(f"/api/labs/{lab}/operations/"):
                if op["id"] == op_id and op["status"] in ("succeeded", "failed"):
                    return op
            time.sleep(0.1)  # within the API's rate for one user
        raise SystemExit(f"operation {op_id} did not end within {ceiling} s")

    def timed(self, path: str, lab: int, body: dict | None = None) -> float:
        """Seconds from the request to the operation's end, as the browser sees it."""
        started = time.perf_counter()
        response = self.post(path, body)
        response.raise_for_status()
        data = response.json()
        op = self.wait_operation(data.get("operation") or data["id"], lab)
        if op["status"] != "succeeded":
            raise SystemExit(f"{path} failed: {op['error']}")
        return time.perf_counter() - started


def bob_round(bob: Student, lab: int, link: int) -> tuple[float, float]:
    deploy = bob.timed(f"/api/labs/{lab}/deploy/", lab)
    op = bob.post(f"/api/labs/{lab}/destroy/").json()
    bob.wait_operation(op["id"], lab)
    pair = bob.get(f"/api/links/{link}/")["lab"]
    pull = bob.timed(f"/api/links/{link}/cable/", pair, {"plugged": False})
    bob.timed(f"/api/links/{link}/cable/", pair, {"plugged": True})
    return deploy, pull


class Flood:
    """Mallory's flood, in threads (REST) and one event loop (WebSockets), until stopped."""

    KINDS = ("captures", "actions", "snapshots", "consoles")

    def __init__(self, mallory: Student, lab: int, nodes: list[int], ws_base: str, kinds=KINDS):
        self.mallory, self.lab, self.nodes, self.ws_base = mallory, lab, nodes, ws_base
        self.kinds = set(kinds)
        self.stopping = threading.Event()
        self.counts = {"captures": 0, "node actions": 0, "snapshot messages": 0, "console bytes": 0}
        self.threads = [threading.Thread(target=lambda: asyncio.run(self._sockets()), daemon=True)]
        if "captures" in self.kinds:
            self.threads.append(threading.Thread(target=self._captures, daemon=True))
        if "actions" in self.kinds:
            self.threads.append(threading.Thread(target=self._node_actions, daemon=True))

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def _captures(self) -> None:
        while not self.stopping.is_set():
            body = {"node": "h0", "iface": "eth0", "seconds": 30}
            if self.mallory.post(f"/api/labs/{self.lab}/captures/", body).status_code == 202:
                self.counts["captures"] += 1
            time.sleep(0.05)

    def _node_actions(self) -> None:
        while not self.stopping.is_set():
            for node in self.nodes:
                if self.mallory.post(f"/api/nodes/{node}/action/", {"action": "restart"}).status_code == 202:
                    self.counts["node actions"] += 1
            time.sleep(0.05)

    async def _sockets(self) -> None:
        import websockets

        headers = {"Cookie": self.mallory.cookie}
        origin = self.ws_base.replace("ws://", "http://")

        async def snapshots() -> None:
            async with websockets.connect(f"{self.ws_base}/ws/labs/{self.lab}/", additional_headers=headers,
                                          origin=origin, max_size=None) as ws:  # fmt: skip
                while not self.stopping.is_set():
                    await ws.send(json.dumps({"type": "snapshot"}))
                    with contextlib.suppress(TimeoutError):
                        while True:
                            await asyncio.wait_for(ws.recv(), 0.02)
                            self.counts["snapshot messages"] += 1

        async def console(node: str) -> None:
            url = f"{self.ws_base}/ws/labs/{self.lab}/nodes/{node}/console/"
            with contextlib.suppress(Exception):
                async with websockets.connect(url, additional_headers=headers, origin=origin) as ws:
                    await ws.send(b"yes\r")
                    while not self.stopping.is_set():
                        with contextlib.suppress(TimeoutError):
                            self.counts["console bytes"] += len(await asyncio.wait_for(ws.recv(), 0.5))

        tasks = [snapshots() for _ in range(20 if "snapshots" in self.kinds else 0)]
        tasks += [console(f"h{i % 4}") for i in range(8 if "consoles" in self.kinds else 0)]
        await asyncio.gather(*tasks, return_exceptions=True)


def flood_until_interrupted(plan: dict) -> None:
    mallory = Student(plan["base"], plan["token"], plan["cookie"])
    flood = Flood(
        mallory, plan["lab"], plan["nodes"], plan["base"].replace("http://", "ws://"), plan["kinds"]
    )
    flood.start()
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(1)
    flood.stop()
    print(json.dumps({**flood.counts, "refused with 429": mallory.refused}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--flood", default=",".join(Flood.KINDS), help="what Mallory floods with")
    parser.add_argument("--flooder", help=argparse.SUPPRESS)  # the flooding client's own process
    args = parser.parse_args()
    if args.flooder:
        return flood_until_interrupted(json.loads(args.flooder))
    sys.path.insert(0, os.getcwd())
    setup_django()
    state = Path(os.environ["WIRELAB_STATE_DIR"])
    installation = Installation(state)
    bob = mallory = None
    try:
        bob = Student.new("bob", installation.url)
        mallory = Student.new("mallory", installation.url)
        bob_lab = bob.new_lab(star("bob", 10, 30))
        bob_pair = bob.new_lab(PAIR.format(name="bob-pair"))
        noise = mallory.new_lab(star("noise", 4, 31))
        for student, lab in ((bob, bob_pair), (mallory, noise)):
            student.timed(f"/api/labs/{lab}/deploy/", lab)
        link = bob.get(f"/api/links/?lab={bob_pair}")[0]["id"]
        nodes = [node["id"] for node in mallory.get(f"/api/nodes/?lab={noise}")]

        alone = [bob_round(bob, bob_lab, link) for _ in range(args.rounds)]
        # Mallory's client runs at the lowest CPU priority: in real life it is not on the lab host
        plan = {"base": installation.url, "token": mallory.token, "cookie": mallory.cookie,
                "lab": noise, "nodes": nodes, "kinds": args.flood.split(",")}  # fmt: skip
        command = ["nice", "-n", "19", sys.executable, "-m", "bench.flood", "--flooder", json.dumps(plan)]
        flooder = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        time.sleep(5)  # let it build up
        try:
            loaded = [bob_round(bob, bob_lab, link) for _ in range(args.rounds)]
        finally:
            flooder.send_signal(signal.SIGINT)
            report = json.loads(flooder.communicate(timeout=120)[0].strip().splitlines()[-1])

        print(f"rounds: {args.rounds}; Bob's deploy of 10 hosts, and a cable pull (median seconds)")
        for index, what in enumerate(("deploy", "cable pull")):
            a = statistics.median(r[index] for r in alone)
            b = statistics.median(r[index] for r in loaded)
            print(f"  {what:<10} alone {a:6.2f}   while flooded {b:6.2f}   ratio {b / a:4.2f}x")
        print(f"Mallory's flood ({args.flood}): {report}")
    finally:
        for student in (bob, mallory):
            for lab in student.get("/api/labs/") if student else []:
                if lab["status"] not in ("draft", "stopped"):
                    with contextlib.suppress(Exception):
                        op = student.post(f"/api/labs/{lab['id']}/destroy/").json()
                        student.wait_operation(op["id"], lab["id"])
        installation.stop()
        from django.db import connections

        connections.close_all()
        _admin(f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
