"""What stitching a lab across lab hosts costs: the same lab deployed on one lab host and split
over two (each of its cables then stitched by VXLAN between the two fabric namespaces), in one
run on this machine. Two lab hosts' engines share its cores here, so this reports the split's
overhead, not a speed-up.

The lab: N pairs of hosts, each pair joined by a cable. Split, the left host of every pair runs
on lab host a and the right one on b: N stitched cables. Both parts converge at once (as two lab
hosts would); "per stitched cable" is (split - one) / N. Also the round trip of a ping over a
stitched cable against a cable within one lab host.

Usage: .venv/bin/python -m bench.stitching [--pairs 10,20] [--repeat 3] [--json FILE]
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import secrets
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import yaml

from tests.underlay import make_underlay
from topology.compiler import Underlay, compile_lab
from topology.document import read_document
from worker.config import EngineConfig
from worker.converge import converge, destroy

VNIS = itertools.count(9001)


def pairs_lab(pairs: int, split: bool) -> str:
    nodes, links = {}, []
    for i in range(pairs):
        for side, host in (("l", "a"), ("r", "b" if split else "a")):
            nodes[f"{side}{i}"] = {"kind": "host", "placement": {"labhost": host}}
        links.append({"endpoints": [f"l{i}:eth0", f"r{i}:eth0"], "subnet": f"198.18.{i}.0/30"})
    return yaml.safe_dump({"name": f"pairs-{pairs}", "nodes": nodes, "links": links})


def deploy(text: str, underlay, configs: dict[str, EngineConfig]) -> tuple[str, float]:
    """Both lab hosts' parts converged at once; (tag, seconds until both were done)."""
    tag = "b" + secrets.token_hex(3)
    vnis: dict[str, int] = {}
    stitching = Underlay(underlay.address, lambda bridge: vnis.setdefault(bridge, next(VNIS)))
    specs, _ = compile_lab(read_document(text), tag, "a", underlay=stitching)
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda host: converge(specs[host], configs[host]), specs))
    seconds = time.perf_counter() - started
    failed = {n: s.reason for r in reports for n, s in r.failed_nodes.items()}
    if failed:
        raise RuntimeError(f"nodes failed: {failed}")
    return tag, seconds


def rtt_ms(tag: str, source: str, address: str) -> float:
    """The median round trip of 20 pings, as ping reports it."""
    command = ["docker", "exec", f"wl-{tag}-{source}", "ping", "-c", "20", "-i", "0.05", "-q", address]
    out = subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout
    found = re.search(r"= [\d.]+/([\d.]+)/", out)
    if found is None:
        raise RuntimeError(f"no round trip in: {out}")
    return float(found[1])


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--pairs", default="10,20")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json")
    args = parser.parse_args()
    underlay = make_underlay(["a", "b"])
    mark = "bench" + secrets.token_hex(3)
    configs = {
        h: replace(EngineConfig(), installation=mark, labhost=h, underlay_netns=underlay.netns[h])
        for h in "ab"
    }
    results: dict = {}
    made: list[str] = []
    try:
        for pairs in [int(p) for p in args.pairs.split(",")]:
            row: dict = {}
            for label, split in (("one", False), ("split", True)):
                runs, rtts = [], []
                for _ in range(args.repeat):
                    tag, seconds = deploy(pairs_lab(pairs, split), underlay, configs)
                    made.append(tag)
                    runs.append(seconds)
                    rtts.append(rtt_ms(tag, "l0", "198.18.0.2"))
                    for config in configs.values():
                        destroy(tag, config.labhost, config=config)
                    made.remove(tag)
                row[f"{label}_s"] = round(statistics.median(runs), 2)
                row[f"{label}_rtt_ms"] = round(statistics.median(rtts), 3)
            row["ratio"] = round(row["split_s"] / row["one_s"], 2)
            row["per_stitched_cable_ms"] = round((row["split_s"] - row["one_s"]) / pairs * 1000, 1)
            results[f"pairs_{pairs}"] = row
            print(
                f"{pairs:3d} cables: one lab host {row['one_s']:6.2f} s,"
                f" split over two {row['split_s']:6.2f} s"
                f" ({row['ratio']:.2f}x, {row['per_stitched_cable_ms']:+.1f} ms a stitched cable);"
                f" ping {row['one_rtt_ms']:.3f} ms within one, {row['split_rtt_ms']:.3f} ms stitched"
            )
    finally:
        for tag in made:
            for config in configs.values():
                destroy(tag, config.labhost, config=config)
        underlay.remove()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
