"""Helpers for live-state tests: a lab deployed for real, a monitor running in-process,
and WebSocket clients that collect what they are sent."""

from __future__ import annotations

import asyncio
import json
import time

from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.db import connection

from config.routing import websocket_urlpatterns
from labs import lifecycle
from labs.hostside.jobs import carry_out
from labs.labfiles import import_lab
from labs.live import state


async def run_sync(fn, *args):
    """Run blocking code in a thread, closing that thread's database connection after."""

    def call():
        try:
            return fn(*args)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def deploy(text: str, user):
    lab, _ = import_lab(text, user)
    return redeploy(lab, user)


def redeploy(lab, user):
    """Deploy a stored lab on this lab host as its worker would; returns it fresh."""
    op = carry_out(lifecycle.request_deploy(lab, user, enqueue=False).id)
    assert op.status == "succeeded", op.log
    lab.refresh_from_db()
    return lab


def apply(lab_id: int, kind: str, **params):
    """Carry out a control on this lab host as its worker would, without the queue."""
    from labs.models import Lab

    op = carry_out(lifecycle.request_job(Lab.objects.get(id=lab_id), kind, params, enqueue=False).id)
    assert op.done, op.status
    return op


def cable(lab_id: int, ends: list, plugged: bool):
    op = apply(lab_id, "cable", ends=ends, plugged=plugged)
    assert op.status == "succeeded", op.error
    return op


def impair(lab_id: int, ends: list, values: dict):
    full = {k: values.get(k, 0) for k in ("delay_ms", "jitter_ms", "loss_pct", "rate_kbit")}
    return apply(lab_id, "impair", ends=ends, values=full)


class Socket(WebsocketCommunicator):
    """A test WebSocket whose handshake waits as long as a loaded lab host may need (the
    library's own default is one second)."""

    async def connect(self, timeout: float = 30):
        return await super().connect(timeout)


async def connect(path: str, user) -> Socket:
    communicator = Socket(URLRouter(websocket_urlpatterns), path)
    communicator.scope["user"] = user
    return communicator


async def read_until(ws, needle: bytes, timeout: float = 30) -> bytes:
    """What a console sends until `needle` appears (carriage returns left out)."""
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in seen.replace(b"\r", b""):
        output = await ws.receive_output(timeout=max(0.1, deadline - loop.time()))
        seen += output.get("bytes") or b""
    return seen


async def refused(path: str, user) -> tuple[bool, int | None]:
    """What connecting answers, for a socket the test expects refused; the consumer is then let
    go, so nothing of it is left on the event loop when the test ends."""
    communicator = await connect(path, user)
    answer = await communicator.connect()
    await communicator.disconnect()
    return answer


async def collect(communicator, predicate, timeout: float) -> tuple[list[dict], float]:
    """Messages until `predicate(messages)` holds; returns them and the seconds it took."""
    start = time.monotonic()
    messages: list[dict] = []
    while not predicate(messages):
        left = timeout - (time.monotonic() - start)
        if left <= 0:
            raise AssertionError(f"not seen within {timeout}s; got {messages[-5:]}")
        try:
            messages.append(await communicator.receive_json_from(timeout=left))
        except TimeoutError:
            raise AssertionError(f"not seen within {timeout}s; got {messages[-5:]}") from None
    return messages, time.monotonic() - start


def events_of(messages: list[dict], kind: str) -> list[dict]:
    return [e for m in messages if m.get("type") == "events" for e in m["events"] if e["type"] == kind]


TWO_ROUTERS = """
name: pair
nodes:
  a: {kind: router}
  b: {kind: router}
links:
  - {endpoints: [a:eth1, b:eth1], subnet: 198.18.30.0/30}
"""


def last_said(lab_tag: str, kind: str) -> dict:
    """The last event of `kind` a lab's sockets were sent (kept in its live state)."""
    client = state._client()
    try:
        return json.loads(client.hget(state.state_key(lab_tag), kind))
    finally:
        client.close()
