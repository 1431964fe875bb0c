"""Browser tests: Debian's Chromium driven by Playwright against a real Wirelab: Daphne
serving the test database, a Celery worker on a queue of its own, and the live monitor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import sync_playwright

from labs.hostside.engine import this_labhost
from labs.hostside.monitor import MonitorService
from labs.models import Lab
from tests.ports import free_port, wait_for_port
from tests.processes import shared_database_url, start_worker
from worker import pool
from worker.converge import destroy

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SCREENSHOTS = Path(__file__).resolve().parents[2] / ".wirelab" / "screenshots"


@pytest.fixture
def server(transactional_db, tmp_path, settings):
    """A running Wirelab on a free port; yields its base URL. Labs made are destroyed after."""
    queue = f"e2e-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = dict(os.environ, DATABASE_URL=shared_database_url(), WIRELAB_LABHOST=queue)
    settings.WIRELAB_LABHOST = queue
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
            # the web tier has no Docker engine: consoles and commands are served by the lab host
            env={**env, "DOCKER_HOST": "tcp://127.0.0.1:9"}, stdout=open(logs / "web.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT, start_new_session=True,
        ),
        start_worker(queue, logs / "worker.log"),
    ]  # fmt: skip
    monitor = MonitorService()
    monitor.start()
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        monitor.stop()  # first: its upkeep heals no lab taken down here
        for lab in Lab.objects.all():
            destroy(lab.tag, lab.labhost)
        for proc in processes:
            os.killpg(proc.pid, signal.SIGTERM)
        for proc in processes:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        this_labhost().drain_warm()  # what a teacher prepared, once nobody tops it up
        pool.forget(this_labhost().config)


@pytest.fixture
def browser_page(server, django_user_model):
    """A signed-in page at 1280x800; fails the test on any console error."""
    django_user_model.objects.create_user("eve", password="pw-eve-12345")
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{server}/accounts/login/")
        page.fill("#id_username", "eve")
        page.fill("#id_password", "pw-eve-12345")
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.base = server
        yield page
        browser.close()
    assert errors == [], errors


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def outside_the_browser_loop(fn):
    """Database work from a test that drives Playwright's synchronous API (which runs an
    event loop in this thread, where Django refuses it)."""

    def call():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()
