"""A class starting at once: N students press Start on the same 10-node exercise at the same
moment, through the API as the browser does, on an installation started as `make run` starts
it (daphne, the lab host's two workers, the live monitor) with a scratch PostgreSQL database.

Reported: seconds until every student's lab runs (p50/p95/max per student), until its first
round of checks is in, the peak length of the lab host's deploy queue, the time for one round
of checks over every lab (all students pressing Check together), and the live-state latency
of a lab that was already running (a cable flapped every half second), before the class
starts and while it starts (p50/p95, and their ratio).

Run cold (the lab host keeps no warm sandboxes) and warm (the teacher prepared the exercise
beforehand through the API, and the pool was filled before the students press Start; the time
that took is reported apart), each on an installation of its own, in the same command.

Usage: .venv/bin/python -m bench.classroom [--students 30] [--hosts 10] [--modes cold,warm]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bench.flood import Installation, Student, star
from bench.live import BENCH_DB, PAIR, _admin, fabric_cable, percentile, setup_django


def exercise_text(hosts: int) -> str:
    checks = "".join(f"    - reach: {{from: h{i}, to: h0}}\n" for i in range(1, min(hosts, 6)))
    return star("class-lab", hosts, 20) + f"exercise:\n  title: Everyone reaches h0\n  checks:\n{checks}"


def make_class(students: int, hosts: int, base: str):
    from django.contrib.auth import get_user_model

    from labs.classroom.courses import create_course, join
    from labs.classroom.exercises import add_exercise, read_exercise
    from labs.classroom.roles import make_teacher

    teacher = Student.new("teacher", base)
    make_teacher(get_user_model().objects.get(username="teacher"))
    course = create_course("Benchmark class", get_user_model().objects.get(username="teacher"))
    exercise = add_exercise(course, read_exercise(exercise_text(hosts)))
    people = []
    for i in range(students):
        student = Student.new(f"student{i}", base)
        join(course, get_user_model().objects.get(username=f"student{i}"))
        people.append(student)
    return exercise, teacher, people


def prepare_class(exercise, teacher: Student, students: int, hosts: int) -> float:
    """The teacher prepares the exercise for the class; seconds until the pool holds it all."""
    from labs.hostside.engine import this_labhost

    started = time.perf_counter()
    answer = teacher.post(f"/api/exercises/{exercise.id}/prepare/", {"students": students})
    if answer.status_code != 202:
        raise SystemExit(f"prepare refused: {answer.status_code} {answer.text[:200]}")

    def ready() -> bool:
        return sum(row["ready"] for row in this_labhost().warm_status({}, 100_000)) >= students * hosts

    wait_until(ready, 1800, "the prepared sandboxes", every=1)
    return time.perf_counter() - started


class LiveProbe:
    """A running lab of someone else's: its cable flaps every half second, and the time from
    the kernel's change to the WebSocket message is recorded, tagged with the phase."""

    def __init__(self, installation: Installation, watcher: Student, lab, phase: list[str]):
        self.url = f"ws://127.0.0.1:{installation.port}/ws/labs/{lab.id}/"
        self.cookie, self.lab, self.phase = watcher.cookie, lab, phase
        self.cable = fabric_cable(lab)
        self.samples: dict[str, list[float]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        import websockets

        from worker.live.controls import set_cable

        origin = self.url.replace("ws://", "http://").split("/ws/")[0]
        async with websockets.connect(self.url, additional_headers={"Cookie": self.cookie}, origin=origin,
                                      max_size=None) as ws:  # fmt: skip
            await ws.recv()  # the snapshot
            plugged = False
            while not self.stopping.is_set():
                want = "up" if plugged else "down"
                await asyncio.to_thread(set_cable, self.lab.tag, self.cable, plugged)
                started, phase = time.perf_counter(), self.phase[0]
                try:
                    while True:
                        message = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
                        events = message.get("events", [])
                        if any(e.get("node") == "a" and e.get("oper") == want for e in events):
                            self.samples.setdefault(phase, []).append((time.perf_counter() - started) * 1000)
                            break
                except TimeoutError:
                    self.samples.setdefault(phase + " (lost)", []).append(10_000)
                plugged = not plugged
                await asyncio.sleep(0.5)


def wait_until(predicate, ceiling: float, what: str, every: float = 0.25):
    deadline = time.monotonic() + ceiling
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise SystemExit(f"{what} did not happen within {ceiling:g} s")


def press_start(exercise, students: list[Student]) -> float:
    """Every student presses Start at the same moment; returns that moment."""
    barrier = threading.Barrier(len(students) + 1)
    answers: list = [None] * len(students)

    def press(i: int, student: Student) -> None:
        barrier.wait()
        answers[i] = student.post(f"/api/exercises/{exercise.id}/start/")

    threads = [threading.Thread(target=press, args=(i, s)) for i, s in enumerate(students)]
    for thread in threads:
        thread.start()
    barrier.wait()
    t0 = time.perf_counter()
    for thread in threads:
        thread.join()
    refused = [(a.status_code, a.text[:200]) for a in answers if a.status_code != 202]
    if refused:
        raise SystemExit(f"refused starts: {refused}")
    return t0


def follow_the_class(queue: str, students: int, t0: float) -> tuple[list[float], list[float], int]:
    """Seconds until each lab runs and until its first checks are in; the peak deploy queue."""
    from django.db import connection

    from labs.classroom.models import Attempt
    from labs.models import Operation

    running_at: dict[int, float] = {}
    checked_at: dict[int, float] = {}
    peak = 0

    def progress() -> bool:
        nonlocal peak
        now = time.perf_counter() - t0
        waiting = Operation.objects.filter(labhost=queue, kind__in=Operation.LIFECYCLE, status="queued")
        peak = max(peak, waiting.count())
        for attempt in Attempt.objects.select_related("lab"):
            if attempt.lab.status == "failed":
                raise SystemExit(f"{attempt.lab.slug} failed: {attempt.lab.status_reason}")
            if attempt.lab.status == "running":
                running_at.setdefault(attempt.id, now)
            if attempt.checked:
                checked_at.setdefault(attempt.id, now)
        connection.close()
        return len(checked_at) == students

    wait_until(progress, 1800, "every lab running and checked", every=0.5)
    return sorted(running_at.values()), sorted(checked_at.values()), peak


def one_round_of_checks(students: list[Student]) -> float:
    """Every student presses Check at once: seconds until every lab's round is in."""
    from labs.classroom.models import Attempt

    marks = dict(Attempt.objects.values_list("student__username", "checked"))
    ids = dict(Attempt.objects.values_list("student__username", "id"))
    started = time.perf_counter()
    names = [f"student{i}" for i in range(len(students))]
    threads = [threading.Thread(target=s.post, args=(f"/api/attempts/{ids[n]}/check/",))
               for s, n in zip(students, names, strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def all_in() -> bool:
        now = Attempt.objects.select_related("student")
        return all(a.checked and a.checked > marks[a.student.username] and not a.checking for a in now)

    wait_until(all_in, 600, "a round of checks")
    return time.perf_counter() - started


def report(running, checked, scores, peak, *, check_round, students, samples, prepared=None) -> None:
    def spread(values, unit):
        return f"p50 {statistics.median(values):.1f} {unit}, p95 {percentile(values, 95):.1f} {unit}"

    if prepared is not None:
        print(f"preparing the class beforehand (not counted below): {prepared:.1f} s")
    print(f"labs running: {spread(running, 's')}, last {running[-1]:.1f} s")
    print(f"first checks in: {spread(checked, 's')}, last {checked[-1]:.1f} s; scores {sorted(set(scores))}")
    print(f"peak deploy queue: {peak}")
    print(f"one round of checks over {students} labs (all pressing Check at once): {check_round:.1f} s")
    before, during = samples.get("before", []), samples.get("during", [])
    for name, values in (("before the class", before), ("while it starts", during)):
        if values:
            print(f"live state of a running lab {name}: {spread(values, 'ms')} ({len(values)} flaps)")
    if before and during:
        print(f"p95 while the class starts / before: {percentile(during, 95) / percentile(before, 95):.2f}x")
    lost = sum(len(v) for k, v in samples.items() if k.endswith("(lost)"))
    print(f"flaps not seen within 10 s: {lost}")


def run_class(mode: str, args) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection

    from labs.classroom.models import Attempt, Course
    from labs.hostside.engine import this_labhost
    from labs.models import Lab, LabHost
    from worker.converge import destroy

    os.environ["WIRELAB_POOL"] = ""  # warm or not, only what the teacher prepares
    os.environ["WIRELAB_POOL_MAX"] = str(max(200, args.students * args.hosts))
    installation = Installation(Path(tempfile.mkdtemp(prefix=f"wirelab-bench-class-{mode}-")))
    settings.WIRELAB_LABHOST = installation.queue
    try:
        exercise, teacher, students = make_class(args.students, args.hosts, installation.url)
        prepared = prepare_class(exercise, teacher, args.students, args.hosts) if mode == "warm" else None
        watcher = Student.new("watcher", installation.url)
        pair_id = watcher.new_lab(PAIR.format(name="already-running"))
        watcher.timed(f"/api/labs/{pair_id}/deploy/", pair_id)
        phase = ["before"]
        probe = LiveProbe(installation, watcher, Lab.objects.get(id=pair_id), phase)
        probe.thread.start()
        time.sleep(8)  # the baseline: the lab host with only this lab

        print(f"{mode}: {args.students} students press Start on a {args.hosts}-node exercise at once …",
              flush=True)  # fmt: skip
        phase[0] = "during"
        t0 = press_start(exercise, students)
        running, checked, peak = follow_the_class(installation.queue, len(students), t0)
        phase[0] = "after"
        scores = list(Attempt.objects.values_list("score", flat=True))
        check_round = one_round_of_checks(students)
        probe.stopping.set()
        probe.thread.join(timeout=20)
        report(running, checked, scores, peak, check_round=check_round, students=len(students),
               samples=probe.samples, prepared=prepared)  # fmt: skip
        return {"p50": statistics.median(running), "p95": percentile(running, 95), "last": running[-1]}
    finally:
        for lab in Lab.objects.all():
            destroy(lab.tag, lab.labhost)
        installation.stop()
        this_labhost().drain_warm()
        LabHost.objects.filter(name=installation.queue).delete()  # not alive for the next mode
        Course.objects.all().delete()  # the next mode starts from no one
        get_user_model().objects.all().delete()
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--modes", default="cold,warm")
    args = parser.parse_args()
    setup_django()
    try:
        results = {mode: run_class(mode, args) for mode in args.modes.split(",")}
    finally:
        _admin(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    if {"cold", "warm"} <= results.keys():
        cold, warm = results["cold"], results["warm"]
        print("warm / cold: " + ", ".join(f"{k} {warm[k] / cold[k]:.2f}x" for k in ("p50", "p95", "last")))


if __name__ == "__main__":
    main()
