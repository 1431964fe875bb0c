"""The lab page in Chromium: time to interactive for 10, 100 and 500 nodes, and frames per
second while a person drags the view of a 500-node lab whose live state changes every 200 ms.

Time to interactive is from the navigation's start to the editor's `wirelab:interactive` mark
(document and kinds loaded, drawn, laid out when the lab has no positions, fitted, socket
opened, validated). The labs have no positions, as an imported file: the automatic layout is
part of the figure. The 500-node lab's live state (every node running, every cable up, counters
moving) is replayed into the page through the same path the socket feeds, since 500 containers
are more than this machine runs alongside the browser; what is measured is the page's work.

Needs Redis on 127.0.0.1:6379 (`make run` or `make test` start it). A web server runs on a free
loopback port against a throwaway SQLite database.

Run: .venv/bin/python -m bench.editor_load [--sizes 10,100,500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from tests.ports import free_port, wait_for_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-sync",
]

REPLAY = """async (seconds) => {
  const w = window.wirelab; const names = Object.keys(w.model.doc.nodes);
  const ends = w.cy.edges().map((e) => e.data('ends') || []).flat();
  let tick = 0;
  const feed = () => {
    tick++;
    const state = {...w.live, status: {status: 'running', reason: ''}, nodes: {}, links: {}, counters: {}};
    for (const n of names) state.nodes[n] = {state: 'running'};
    for (const end of ends) {
      state.links[end] = {oper: 'up'};
      const bps = (tick * 7919 + end.length * 104729) % 2e6;
      state.counters[end] = {rx_bps: bps, tx_bps: 0, rx_packets: tick, tx_packets: tick};
    }
    window.wirelabParts.liveView.onLive(state);
  };
  feed();
  const timer = setInterval(feed, 200);
  let frames = 0; let running = true;
  const count = () => { frames++; if (running) requestAnimationFrame(count); };
  requestAnimationFrame(count);
  window.__frames = () => frames;
  window.__stop = () => { running = false; clearInterval(timer); };
}"""


def lab_of(n: int) -> dict:
    """`n` nodes without positions: switches, each with nine end hosts, the switches in a chain."""
    nodes, links = {}, []
    switches = max(1, n // 10)
    for s in range(switches):
        nodes[f"sw{s}"] = {"kind": "switch"}
        if s:
            links.append({"endpoints": [f"sw{s - 1}:p0", f"sw{s}:p1"]})
        for h in range(9):
            nodes[f"h{s}-{h}"] = {"kind": "host"}
            links.append({"endpoints": [f"h{s}-{h}:eth0", f"sw{s}:p{h + 2}"]})
    return {"name": f"load-{n}", "nodes": nodes, "links": links}


READY = "performance.getEntriesByName('wirelab:interactive')"
PASSWORD = "bench-pw-123"  # noqa: S105  a throwaway account in a throwaway database


def time_to_interactive(page, base: str, lab_id: int, n: int, rounds: int) -> None:
    times = []
    for _ in range(rounds):
        page.goto(f"{base}/labs/{lab_id}/")
        page.wait_for_function(f"{READY}.length", timeout=120_000)
        times.append(page.evaluate(f"{READY}[0].startTime"))
    print(f"time to interactive, {n} nodes: median {statistics.median(times):.0f} ms "
          f"(min {min(times):.0f}, max {max(times):.0f}, {rounds} loads)", flush=True)  # fmt: skip


def drag_rate(page, rounds: int) -> list[float]:
    """Frames per second while the mouse drags the view back and forth for about 3 s."""
    box = page.locator("#canvas").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    rates = []
    for _ in range(rounds):
        start_frames = page.evaluate("window.__frames()")
        started = time.perf_counter()
        page.mouse.move(cx, cy)
        page.mouse.down()
        for step in range(60):
            dx = 200 if (step // 15) % 2 == 0 else -200
            page.mouse.move(cx + dx * ((step % 15) / 15), cy + 40 * ((step % 15) / 15), steps=4)
            time.sleep(0.01)
        page.mouse.up()
        rates.append((page.evaluate("window.__frames()") - start_frames) / (time.perf_counter() - started))
    return rates


def panning(page, base: str, lab_id: int, n: int, rounds: int) -> None:
    page.goto(f"{base}/labs/{lab_id}/")
    page.wait_for_function(f"{READY}.length", timeout=120_000)
    print(f"panning the {n}-node lab, live state replayed every 200 ms:", flush=True)
    # the last run is the baseline: the same drags without the big-lab renderer settings
    for zoom, tuned in ((None, True), (1.0, True), (None, False)):
        flag = str(tuned).lower()
        page.evaluate(f"(() => {{ const r = window.wirelab.cy.renderer(); r.textureOnViewport = {flag};"
                      f" r.hideEdgesOnViewport = {flag}; }})()")  # fmt: skip
        if zoom is None:
            page.evaluate("window.wirelab.cy.fit(undefined, 30)")
        else:  # close up: nodes and labels drawn large
            page.evaluate(f"(() => {{ const cy = window.wirelab.cy; cy.zoom({{level: {zoom},"
                          " renderedPosition: {x: cy.width() / 2, y: cy.height() / 2}}); })()")  # fmt: skip
        page.evaluate(REPLAY, 0)
        rates = drag_rate(page, rounds)
        page.evaluate("window.__stop()")
        where = ("whole lab in view" if zoom is None else f"zoom {zoom}") + (
            "" if tuned else ", without the settings"
        )
        print(f"  {where}: median {statistics.median(rates):.0f} frames/s "
              f"(min {min(rates):.0f}, max {max(rates):.0f}, {rounds} drags)", flush=True)  # fmt: skip


def serve(env: dict) -> tuple[subprocess.Popen, str]:
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    wait_for_port(port)
    return web, f"http://127.0.0.1:{port}"


def setup(sizes: list[int]) -> tuple[dict, dict[int, int]]:
    """The environment of a throwaway installation, and a lab of each size in it."""
    state = tempfile.mkdtemp()
    env = dict(os.environ, WIRELAB_STATE_DIR=state, DATABASE_URL=f"sqlite:///{state}/bench.sqlite3",
               DJANGO_SETTINGS_MODULE="config.settings")  # fmt: skip
    os.environ.update(env)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labs.store.documents import save_document
    from topology.document import LabDoc

    call_command("migrate", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    user = get_user_model().objects.create_user("bench", password=PASSWORD)
    return env, {n: save_document(LabDoc.model_validate(lab_of(n)), user)[0].id for n in sizes}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    env, labs = setup(sizes)
    from playwright.sync_api import sync_playwright

    web, base = serve(env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", "bench")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            for n in sizes:
                time_to_interactive(page, base, labs[n], n, args.rounds)
            panning(page, base, labs[max(sizes)], max(sizes), args.rounds)
            browser.close()
    finally:
        os.killpg(web.pid, signal.SIGTERM)
        web.wait(timeout=15)
    sys.exit(0)


if __name__ == "__main__":
    main()
