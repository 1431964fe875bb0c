"""Wirelab's node images and what they cost: each image's first build and its no-change check
(images/build.sh), the images' sizes, and the OSPF triangle demo deployed on the FRR image
against the same topology on the busybox node (static routes instead of OSPF), in one run.

For the triangle, "deploy" is the converge (containers, wires, addresses) and "routes" the
time from the deploy's start until r1's kernel has its OSPF route to r3's LAN.

Usage: .venv/bin/python -m bench.images [--repeat 3] [--no-build] [--json FILE]

--no-build skips the first builds (which remove and rebuild each image, about a minute each).
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import subprocess
import time
from pathlib import Path

import docker
import yaml

from topology.compiler import compile_lab
from topology.document import read_document
from worker.config import EngineConfig
from worker.converge import converge, destroy
from worker.images import BUILD_SCRIPT, BUILT_HERE

ROOT = Path(__file__).resolve().parent.parent
TRIANGLE = (ROOT / "labs" / "demo" / "ospf-triangle.yaml").read_text()
CONFIG = EngineConfig()


def build_seconds(name: str) -> float:
    started = time.perf_counter()
    subprocess.run([str(BUILD_SCRIPT), name], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def first_builds(client) -> dict[str, float]:
    """Each image removed and built again (what a new lab host pays once)."""
    out = {}
    for tag, name in BUILT_HERE.items():
        if name == "busybox":
            client.images.remove(tag, force=True)  # running pool members keep their layers
        else:
            client.images.remove(tag)
        out[tag] = build_seconds(name)
    return out


def on_busybox(text: str) -> str:
    """The triangle with busybox routers: the routes OSPF would learn written as static ones."""
    doc = yaml.safe_load(text)
    statics = {
        "r1": [("198.18.2.0/24", "198.18.0.2"), ("198.18.3.0/24", "198.18.0.10")],
        "r2": [("198.18.1.0/24", "198.18.0.1"), ("198.18.3.0/24", "198.18.0.6")],
        "r3": [("198.18.1.0/24", "198.18.0.9"), ("198.18.2.0/24", "198.18.0.5")],
    }
    for name, routes in statics.items():
        node = doc["nodes"][name]
        node.pop("image"), node.pop("files")
        node["routes"] = [{"to": to, "via": via} for to, via in routes]
    doc["name"] = "static-triangle"
    return yaml.safe_dump(doc)


def route_in(tag: str, node: str, prefix: str, showing: str) -> bool:
    """Whether the node's kernel routes `prefix` with `showing` in its line (a protocol, a via)."""
    command = ["docker", "exec", f"wl-{tag}-{node}", "ip", "route", "show", prefix]
    shown = subprocess.run(command, check=False, capture_output=True, text=True).stdout
    return showing in shown


def deploy_triangle(text: str, showing: str) -> tuple[float, float]:
    """(seconds to converge, seconds until r1 routes to r3's LAN), then destroyed."""
    tag = "b" + secrets.token_hex(3)
    specs, _ = compile_lab(read_document(text), tag, "local")
    started = time.perf_counter()
    try:
        converge(specs["local"], CONFIG)
        deployed = time.perf_counter() - started
        deadline = time.monotonic() + 120
        while not route_in(tag, "r1", "198.18.3.0/24", showing):
            if time.monotonic() > deadline:
                raise RuntimeError(f"r1 never routed 198.18.3.0/24 ({showing})")
            time.sleep(0.1)
        return deployed, time.perf_counter() - started
    finally:
        destroy(tag, "local", config=CONFIG)


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--json")
    args = parser.parse_args()
    client = docker.from_env()
    results: dict = {}
    if not args.no_build:
        results["first_build_s"] = first_builds(client)
    checks = [build_seconds("all") for _ in range(args.repeat)]
    results["no_change_check_s"] = statistics.median(checks)
    results["size_mb"] = {tag: round(client.images.get(tag).attrs["Size"] / 1e6) for tag in BUILT_HERE}
    frr = [deploy_triangle(TRIANGLE, "ospf") for _ in range(args.repeat)]
    static = [deploy_triangle(on_busybox(TRIANGLE), "198.18.0.10") for _ in range(args.repeat)]
    for label, runs in (("frr", frr), ("busybox", static)):
        results[f"triangle_{label}"] = {
            "deploy_s": round(statistics.median([d for d, _ in runs]), 2),
            "routes_s": round(statistics.median([r for _, r in runs]), 2),
        }
    results["triangle_deploy_ratio"] = round(
        results["triangle_frr"]["deploy_s"] / results["triangle_busybox"]["deploy_s"], 2
    )
    client.close()
    for tag, seconds in results.get("first_build_s", {}).items():
        print(f"first build   {tag:24} {seconds:6.1f} s   {results['size_mb'][tag]:4d} MB")
    if "first_build_s" not in results:
        for tag, size in results["size_mb"].items():
            print(f"size          {tag:24} {size:4d} MB")
    check = results["no_change_check_s"]
    print(f"no-change check of all three images: {check:.2f} s (median of {args.repeat})")
    for label in ("frr", "busybox"):
        row = results[f"triangle_{label}"]
        print(f"triangle on {label:8} deploy {row['deploy_s']:5.2f} s, r1 routes to r3's LAN after "
              f"{row['routes_s']:5.2f} s")  # fmt: skip
    print(f"deploy ratio FRR / busybox: {results['triangle_deploy_ratio']:.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
