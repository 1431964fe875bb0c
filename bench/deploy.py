"""Deploy and destroy generated labs with the engine, against a floor measured in the same run.

chain-N: N hosts in a line of point-to-point links; star-N: N hosts on one segment.
The floor does the same work with no Wirelab logic: the same containers started with the
docker SDK on the same number of threads, the same veth pairs made with one netlink call
each, the same addresses and links set up with one socket per namespace, and for star
the same bridge in a namespace of its own.

Usage: .venv/bin/python -m bench.deploy [--sizes 10,50,100] [--repeat 3] [--kinds chain,star] [--json FILE]

Also reports the time to re-converge each lab, unchanged, right after its deploy, and then
to add one node to it and take that node away again (a one-node edit of a running lab), and a
warm deploy: the same lab from a pool of warm sandboxes (worker/pool.py) filled beforehand,
untimed, as a lab host's upkeep fills it between deploys.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import docker
from pyroute2 import IPRoute, netns

from topology.compiler import compile_lab
from topology.document import read_document
from worker import pool
from worker.config import EngineConfig
from worker.converge import converge, destroy
from worker.docker_runtime import DockerRuntime

CONFIG = EngineConfig()
WARM = replace(CONFIG, pool=True)
RECONVERGE: list[float] = []  # seconds to re-converge each lab just deployed, unchanged
EDITS: list[tuple[float, float]] = []  # seconds to add one node to it, and to remove that node
IMAGE = "wirelab/node:busybox"


def chain(n: int) -> str:
    nodes = "".join(f"  h{i}: {{kind: host}}\n" for i in range(n))
    links = "".join(
        f"  - {{endpoints: [h{i}:eth1, h{i + 1}:eth0], subnet: 198.18.{i // 64}.{(i % 64) * 4}/30}}\n"
        for i in range(n - 1)
    )
    return f"name: chain-{n}\nnodes:\n{nodes}links:\n{links}"


def star(n: int) -> str:
    nodes = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return f"name: star-{n}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.0.0/22}}\nnodes:\n{nodes}"


# The engine ----------------------------------------------------------------------------


def timed_deploy(text: str, tag: str, config: EngineConfig):
    """Seconds to deploy the lab under `tag`, its report, spec and addresses."""
    specs, assignments = compile_lab(read_document(text), tag, "local")
    start = time.perf_counter()
    report = converge(specs["local"], config)
    deployed = time.perf_counter() - start
    assert not report.failed_nodes, report.failed_nodes
    return deployed, report, specs, assignments


def engine_round(text: str, grown: str) -> tuple[float, float]:
    tag = "b" + secrets.token_hex(3)
    try:
        deployed, _, specs, assignments = timed_deploy(text, tag, CONFIG)
        start = time.perf_counter()
        again = converge(specs["local"], CONFIG)
        RECONVERGE.append(time.perf_counter() - start)
        assert again.changes == [], again.changes
        bigger, _ = compile_lab(read_document(grown), tag, "local", assignments)
        start = time.perf_counter()
        assert not converge(bigger["local"], CONFIG).failed_nodes
        added = time.perf_counter() - start
        start = time.perf_counter()
        converge(specs["local"], CONFIG)
        EDITS.append((added, time.perf_counter() - start))
    finally:
        start = time.perf_counter()
        destroy(tag, "local", config=CONFIG)
        destroyed = time.perf_counter() - start
    return deployed, destroyed


def warm_round(text: str, n: int) -> float:
    runtime = DockerRuntime(WARM)
    try:
        pool.refill(runtime, WARM, [pool.Target(IMAGE, n)], batch=n)
        tag = "w" + secrets.token_hex(3)
        try:
            deployed, report, _, _ = timed_deploy(text, tag, WARM)
            assert sum("claimed from the warm pool" in c for c in report.changes) == n
        finally:
            destroy(tag, "local", config=WARM)
    finally:
        pool.drain(runtime, WARM)
        runtime.close()
    return deployed


# The floor -----------------------------------------------------------------------------


def _start(client, name: str, tag: str) -> int:
    container = client.containers.create(
        IMAGE,
        name=name,
        labels={"wirelab.lab": tag},
        detach=True,
        init=True,
        network_mode="none",
        tty=True,
        stdin_open=True,
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN", "NET_RAW"],
    )
    container.start()
    return client.api.inspect_container(container.id)["State"]["Pid"]


def _configure(path: str, ends: list[tuple[str, str | None]]) -> None:
    with IPRoute(netns=path) as ipr:
        for ifname, address in ends:
            index = ipr.link_lookup(ifname=ifname)[0]
            if address:
                ip, prefix = address.split("/")
                ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))
            ipr.link("set", index=index, state="up")


def floor_round(kind: str, n: int) -> tuple[float, float]:
    import os

    tag = "f" + secrets.token_hex(3)
    client = docker.from_env(timeout=60)
    pool = ThreadPoolExecutor(CONFIG.workers)
    fabric = f"wl-{tag}"
    start = time.perf_counter()
    try:
        pids = list(pool.map(lambda i: _start(client, f"wl-{tag}-h{i}", tag), range(n)))
        paths = [f"/proc/{pid}/ns/net" for pid in pids]
        fds = [os.open(p, os.O_RDONLY) for p in paths]
        ends: dict[str, list] = {p: [] for p in paths}
        with IPRoute() as root:
            if kind == "chain":
                for i in range(n - 1):
                    root.link(
                        "add",
                        ifname="eth1",
                        kind="veth",
                        net_ns_fd=fds[i],
                        peer={"ifname": "eth0", "net_ns_fd": fds[i + 1]},
                    )
                    base = f"198.18.{i // 64}.{(i % 64) * 4}"
                    prefix = base.rsplit(".", 1)[0]
                    last = int(base.rsplit(".", 1)[1])
                    ends[paths[i]].append(("eth1", f"{prefix}.{last + 1}/30"))
                    ends[paths[i + 1]].append(("eth0", f"{prefix}.{last + 2}/30"))
            else:
                netns.create(fabric)
                fabric_fd = os.open(f"/var/run/netns/{fabric}", os.O_RDONLY)
                with IPRoute(netns=fabric) as fab:
                    fab.link("add", ifname="lan", kind="bridge")
                    bridge = fab.link_lookup(ifname="lan")[0]
                    fab.link("set", index=bridge, state="up")
                    for i in range(n):
                        root.link(
                            "add",
                            ifname="eth0",
                            kind="veth",
                            net_ns_fd=fds[i],
                            peer={"ifname": f"p{i}", "net_ns_fd": fabric_fd},
                        )
                        port = fab.link_lookup(ifname=f"p{i}")[0]
                        fab.link("set", index=port, master=bridge, state="up")
                        ends[paths[i]].append(("eth0", f"198.18.{i // 250}.{i % 250 + 1}/22"))
                os.close(fabric_fd)
        for path in paths:
            _configure(path, ends[path])
        for fd in fds:
            os.close(fd)
        deployed = time.perf_counter() - start
    finally:
        start = time.perf_counter()
        ids = [c["Id"] for c in client.api.containers(all=True, filters={"label": f"wirelab.lab={tag}"})]
        list(pool.map(lambda cid: client.api.remove_container(cid, force=True), ids))
        if os.path.exists(f"/var/run/netns/{fabric}"):
            netns.remove(fabric)
        destroyed = time.perf_counter() - start
        pool.shutdown()
        client.close()
    return deployed, destroyed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default="chain,star")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    rows = []
    print(
        f"{'lab':10} {'deploy s':>9} {'floor s':>8} {'ratio':>6}   "
        f"{'destroy s':>9} {'floor s':>8} {'ratio':>6}   {'unchanged re-converge s':>23} "
        f"{'add 1 node s':>12} {'remove 1 s':>10}   {'warm deploy s':>13} {'ratio':>6}"
    )
    kinds = [(k, m) for k, m in (("chain", chain), ("star", star)) if k in args.kinds.split(",")]
    for kind, make in kinds:
        for n in (int(s) for s in args.sizes.split(",")):
            ours, floor, warm = [], [], []
            RECONVERGE.clear()
            EDITS.clear()
            for _ in range(args.repeat):  # interleaved, so drift hits both alike
                ours.append(engine_round(make(n), make(n + 1)))
                floor.append(floor_round(kind, n))
                warm.append(warm_round(make(n), n))
            row = {
                "lab": f"{kind}-{n}",
                "deploy": statistics.median(d for d, _ in ours),
                "deploy_floor": statistics.median(d for d, _ in floor),
                "destroy": statistics.median(d for _, d in ours),
                "destroy_floor": statistics.median(d for _, d in floor),
                "reconverge": statistics.median(RECONVERGE),
                "add_one": statistics.median(a for a, _ in EDITS),
                "remove_one": statistics.median(r for _, r in EDITS),
                "warm_deploy": statistics.median(warm),
            }
            rows.append(row)
            print(
                f"{row['lab']:10} {row['deploy']:9.2f} {row['deploy_floor']:8.2f} "
                f"{row['deploy'] / row['deploy_floor']:6.2f}   {row['destroy']:9.2f} "
                f"{row['destroy_floor']:8.2f} {row['destroy'] / row['destroy_floor']:6.2f}   "
                f"{row['reconverge']:23.3f} {row['add_one']:12.2f} {row['remove_one']:10.2f}   "
                f"{row['warm_deploy']:13.2f} {row['warm_deploy'] / row['deploy_floor']:6.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
