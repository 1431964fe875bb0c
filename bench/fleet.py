"""Many lab hosts: 10 labs of 20 nodes deployed at once on one lab host, then on two.

Each lab host is started as an admin would start one (`manage.py labhost run`: two workers and
a monitor, its own name and queue), all on this machine and its one Docker engine, on a scratch
PostgreSQL database. Both runs share the same two cores, so the second shows what placement and
a second lab host cost, not a speed-up. Reported per run: seconds until each lab runs (p50 and
the last), where the labs went, and the time `request_deploy` takes with placement in it.

Then the scheduler at scale, with no processes: `fleet.choose` and `fleet.sweep` over 10, 100 and
1,000 registered lab hosts holding 10 labs each (rows only), medians of repeated calls.

Usage: .venv/bin/python -m bench.fleet [--labs 10] [--nodes 20]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from bench.live import BENCH_DB, _admin, setup_django

STAR = "name: {name}\nnetworks:\n  lan: {{kind: segment, subnet: 198.18.{net}.0/24}}\nnodes:\n{hosts}"
MANAGE = Path(__file__).resolve().parents[1] / "manage.py"


def star(name: str, n: int, net: int) -> str:
    hosts = "".join(f"  h{i}: {{kind: host, interfaces: {{eth0: {{network: lan}}}}}}\n" for i in range(n))
    return STAR.format(name=name, net=net, hosts=hosts)


def start_labhosts(count: int, logs: Path) -> list[tuple[str, subprocess.Popen]]:
    suffix = uuid.uuid4().hex[:4]
    started = []
    for index in range(count):
        name = f"bench-{index}-{suffix}"
        command = [sys.executable, str(MANAGE), "labhost", "run", "--name", name,
                   "--underlay", f"198.19.251.{index + 1}", "--log-dir", str(logs / name)]  # fmt: skip
        (logs / name).mkdir(parents=True)
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        started.append((name, process))
    return started


def stop_labhosts(started: list[tuple[str, subprocess.Popen]]) -> None:
    for _, process in started:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    for _, process in started:
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def one_run(hosts: int, labs: int, nodes: int, admin) -> dict:
    from labs import fleet, lifecycle
    from labs.labfiles import import_lab
    from labs.models import Lab, LabHost

    started = start_labhosts(hosts, Path(tempfile.mkdtemp(prefix="wirelab-bench-fleet-")))
    names = {name for name, _ in started}
    try:
        wait_until(lambda: names <= {h.name for h in fleet.alive()}, 120, "the lab hosts to register")
        made = [import_lab(star(f"fleet-{hosts}-{i}", nodes, 100 + i), admin)[0] for i in range(labs)]
        asked, t0 = [], time.monotonic()
        for lab in made:
            t = time.perf_counter()
            lifecycle.request_deploy(lab, admin)
            asked.append(time.perf_counter() - t)
        running: dict[int, float] = {}

        def all_running() -> bool:
            for lab_id, status in Lab.objects.filter(id__in=[lab.id for lab in made]).values_list(
                "id", "status"
            ):
                if status == "running" and lab_id not in running:
                    running[lab_id] = time.monotonic() - t0
                elif status == "failed":
                    raise SystemExit(f"lab {lab_id} failed: {Lab.objects.get(id=lab_id).status_reason}")
            return len(running) == len(made)

        wait_until(all_running, 900, "every lab to run")
        placed = {}
        for labhost in Lab.objects.filter(id__in=[lab.id for lab in made]).values_list("labhost", flat=True):
            placed[labhost] = placed.get(labhost, 0) + 1
        for lab in made:
            lifecycle.request_destroy(Lab.objects.get(id=lab.id), admin)
        ids = [lab.id for lab in made]
        wait_until(
            lambda: not Lab.objects.filter(id__in=ids).exclude(status="stopped").exists(),
            600,
            "the labs to stop",
        )
        times = sorted(running.values())
        return {"p50": statistics.median(times), "last": times[-1], "placed": placed,
                "ask_ms": statistics.median(asked) * 1000}  # fmt: skip
    finally:
        stop_labhosts(started)
        LabHost.objects.filter(name__in=names).delete()


def scheduler_at_scale(admin) -> list[tuple[int, float, float]]:
    """Median milliseconds of `choose` and `sweep` with `count` lab hosts of 10 labs each."""
    from django.db import transaction
    from django.utils import timezone

    from labs import fleet
    from labs.labfiles import import_lab
    from labs.models import Lab, LabHost
    from topology.document import parse_document

    probe = import_lab(star("probe", 5, 99), admin)[0]
    doc = parse_document(probe.document)
    rows = []
    for count in (10, 100, 1000):
        LabHost.objects.filter(name__startswith="scale-").delete()
        Lab.objects.filter(name__startswith="scale-").delete()
        now = timezone.now()
        LabHost.objects.bulk_create(
            LabHost(name=f"scale-{i}", capacity_containers=500, last_heartbeat=now) for i in range(count)
        )
        Lab.objects.bulk_create(
            Lab(owner=admin, name=f"scale-{i}-{j}", slug=f"scale-{i}-{j}", tag=uuid.uuid4().hex[:8],
                document=probe.document, status="running", labhost=f"scale-{i}", containers=5)
            for i in range(count) for j in range(10)
        )  # fmt: skip
        choose, sweep = [], []
        for _ in range(15):
            with transaction.atomic():
                t = time.perf_counter()
                fleet.choose(probe, doc)
                choose.append(time.perf_counter() - t)
            t = time.perf_counter()
            fleet.sweep()
            sweep.append(time.perf_counter() - t)
        rows.append((count, statistics.median(choose) * 1000, statistics.median(sweep) * 1000))
    LabHost.objects.filter(name__startswith="scale-").delete()
    Lab.objects.filter(name__startswith="scale-").delete()
    return rows


def hosts_runs(args, admin) -> None:
    results = {}
    for hosts in (1, 2):
        print(f"{args.labs} labs of {args.nodes} nodes at once on {hosts} lab host(s) …", flush=True)
        results[hosts] = one_run(hosts, args.labs, args.nodes, admin)
    print()
    print("lab hosts | every lab running: p50 / last | request_deploy p50 | labs per lab host")
    for hosts, r in results.items():
        spread = ", ".join(str(n) for n in sorted(r["placed"].values(), reverse=True))
        print(f"{hosts:9} | {r['p50']:6.1f} s / {r['last']:6.1f} s | {r['ask_ms']:10.1f} ms | {spread}")
    print(f"ratio two/one (last lab running): {results[2]['last'] / results[1]['last']:.2f}x")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--labs", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=20)
    parser.add_argument("--scheduler-only", action="store_true", help="only the scheduler at scale")
    args = parser.parse_args()
    setup_django()
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labs.models import Lab
    from worker.converge import destroy

    admin = get_user_model().objects.create_superuser("bench-admin", password=uuid.uuid4().hex)
    try:
        if not args.scheduler_only:
            hosts_runs(args, admin)
        print("registered lab hosts | fleet.choose p50 | fleet.sweep p50  (10 running labs per lab host)")
        for count, choose_ms, sweep_ms in scheduler_at_scale(admin):
            print(f"{count:20} | {choose_ms:12.1f} ms | {sweep_ms:12.1f} ms")
    finally:
        for lab in Lab.objects.exclude(name__startswith="scale-"):
            destroy(lab.tag, lab.labhost)
        connection.close()
        _admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
