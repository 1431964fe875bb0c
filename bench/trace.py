"""What a packet's journey costs: the time of a trace on docker-modes (the probe sent, every
namespace captured and nftables-traced, the journey returned) for the primer's paths, and what
tracing does to the lab's own traffic while it runs.

Paths: client -> h1:10000 (DNAT to nginx-2), nginx-2 -> client (masqueraded), app-1 -> app-2
(the overlay's VXLAN), client -> h1:80 (nginx-1's, nginx-1b having failed). Each traced --repeat
times; medians. Overhead: the client fetches h1:10000 --requests times in a loop (timed inside
the client), alone and while traces run back to back from the lab host; medians of --repeat
loops each, and their ratio.

Usage: .venv/bin/python -m bench.trace [--repeat 5] [--requests 400] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import threading
import time
from pathlib import Path

import docker

from topology.compiler import compile_lab
from topology.document import read_document
from worker.config import EngineConfig
from worker.converge import converge, destroy
from worker.labhost import Engine

DEMO = Path(__file__).resolve().parent.parent / "labs" / "demo" / "docker-modes.yaml"
PATHS = [
    ("client", "198.18.0.11", "tcp", 10000),
    ("nginx-2", "198.18.0.100", "icmp", 0),
    ("app-1", "app-2", "icmp", 0),
    ("client", "198.18.0.11", "tcp", 80),
]


def fetch_loop(container, requests: int) -> float:
    """Seconds the client takes for `requests` fetches of h1:10000 (one exec: its own cost is in
    both figures alike)."""
    loop = f"for i in $(seq {requests}); do wget -qO- http://198.18.0.11:10000/ >/dev/null || exit 1; done"
    started = time.perf_counter()
    code, out = container.exec_run(["sh", "-c", loop])
    if code != 0:
        raise RuntimeError(out.decode(errors="replace"))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = EngineConfig(app_settle_seconds=0.5)
    tag = "b" + secrets.token_hex(3)
    specs, _ = compile_lab(read_document(DEMO.read_text()), tag, "local")
    spec = specs["local"]
    client = docker.from_env()
    figures: dict = {"paths": {}, "overhead": {}}
    try:
        converge(spec, config)
        labhost = Engine(config)
        for node, target, protocol, port in PATHS:
            labhost.trace(
                spec, node, target, protocol=protocol, port=port
            )  # warm: first use of each namespace
            took, inside, outcomes = [], [], set()
            for _ in range(args.repeat):
                started = time.perf_counter()
                journey = labhost.trace(spec, node, target, protocol=protocol, port=port)
                took.append(time.perf_counter() - started)
                inside.append(journey["seconds"])
                outcomes.add(f"{journey['outcome']['result']} at {journey['outcome']['at']}")
            name = f"{node} -> {target}" + (f":{port}" if port else f" ({protocol})")
            figures["paths"][name] = {
                "median_s": round(statistics.median(took), 3),
                "max_s": round(max(took), 3),
                "probe_to_end_median_s": round(statistics.median(inside), 3),
                "hops": len(journey["hops"]),
                "outcome": sorted(outcomes),
            }
            print(f"{name:32} median {statistics.median(took):.3f} s  max {max(took):.3f} s  "
                  f"{len(journey['hops'])} hops  {', '.join(sorted(outcomes))}")  # fmt: skip

        box = client.containers.get(f"wl-{tag}-client")
        fetch_loop(box, 5)
        alone = [fetch_loop(box, args.requests) for _ in range(args.repeat)]
        stop, traced = threading.Event(), [0]

        def keep_tracing() -> None:
            while not stop.is_set():
                labhost.trace(spec, "client", "198.18.0.11", protocol="tcp", port=10000)
                traced[0] += 1

        tracer = threading.Thread(target=keep_tracing)
        tracer.start()
        try:
            during = [fetch_loop(box, args.requests) for _ in range(args.repeat)]
        finally:
            stop.set()
            tracer.join()
        ratio = statistics.median(during) / statistics.median(alone)
        figures["overhead"] = {
            "requests": args.requests,
            "alone_median_s": round(statistics.median(alone), 3),
            "while_tracing_median_s": round(statistics.median(during), 3),
            "ratio": round(ratio, 2),
            "traces_meanwhile": traced[0],
        }
        alone_s, during_s = statistics.median(alone), statistics.median(during)
        print(f"{args.requests} fetches of h1:10000: alone {alone_s:.3f} s, while tracing {during_s:.3f} s "
              f"({ratio:.2f}x, {traced[0]} traces)")  # fmt: skip
    finally:
        destroy(tag, "local", config=config)
        client.close()
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
