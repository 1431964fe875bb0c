"""The view socket of a share link, with the real Redis channel layer: joined by the token,
read-only, closed by revoke, expiry and deletion; viewers counted; present mode; and a
running lab's cable pulled by its owner seen by a viewer."""

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone
from rest_framework.test import APIClient

from labs import sharing
from labs.labfiles import import_lab
from labs.models import Lab, Operation, ShareLink

from .live_helpers import TWO_ROUTERS, cable, collect, connect, events_of, run_sync

pytestmark = [pytest.mark.kernel, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

TWO = "name: {name}\nnodes:\n  a: {{kind: router}}\n  b: {{kind: router}}\nlinks:\n  - {{endpoints: [a:eth1, b:eth1]}}\n"


def stored_lab(user, name="viewed") -> Lab:
    lab, _ = import_lab(TWO.format(name=name), user)
    return lab


async def viewer(token):
    """A view socket that has joined with `token`; returns it and its first two messages."""
    ws = await connect("/ws/shared/", None)
    assert (await ws.connect())[0]
    await ws.send_json_to({"type": "join", "token": token})
    return ws


async def joined(token):
    ws = await viewer(token)
    first = await ws.receive_json_from(timeout=30)
    assert first["type"] == "joined", first
    snapshot = await ws.receive_json_from(timeout=30)
    assert snapshot["type"] == "snapshot"
    return ws, first


async def closed_with(ws, code: int, timeout: float = 30) -> float:
    """Seconds until the socket closes with `code` (messages before it are skipped)."""
    start = time.monotonic()
    while True:
        output = await ws.receive_output(timeout=max(0.1, timeout - (time.monotonic() - start)))
        if output["type"] == "websocket.close":
            assert output["code"] == code, output
            return time.monotonic() - start


async def test_a_view_socket_shows_the_lab_and_refuses_everything_else(user):
    lab = await sync_to_async(stored_lab)(user)
    _, token = await sync_to_async(sharing.create_link)(lab, user)
    ws, hello = await joined(token)
    assert hello["present"] is False
    for asked in ({"type": "console", "node": "a"}, {"type": "cable", "node": "a", "iface": "eth1", "plugged": False},
                  {"type": "present", "extent": {"x1": 0, "y1": 0, "x2": 1, "y2": 1}}, {"type": "deploy"},
                  {"type": "join", "token": token}, [1, 2], "text"):  # fmt: skip
        await ws.send_json_to(asked)
        answer = await ws.receive_json_from(timeout=10)
        assert answer == {"type": "error", "message": "this is a read-only view: it can only show the lab"}
    await ws.send_json_to({"type": "snapshot"})
    assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"
    assert not await sync_to_async(Operation.objects.exists)()
    await ws.disconnect()


@pytest.mark.parametrize("kind", ["unknown", "clone-only", "snapshot", "revoked"])
async def test_a_socket_without_a_live_view_link_is_closed(user, kind):
    lab = await sync_to_async(stored_lab)(user)
    mode = ShareLink.Mode.CLONE if kind == "clone-only" else ShareLink.Mode.VIEW
    link, token = await sync_to_async(sharing.create_link)(lab, user, mode=mode, snapshot=kind == "snapshot")
    if kind == "revoked":
        await sync_to_async(sharing.revoke)(link)
    ws = await viewer(token if kind != "unknown" else token[:-3] + "abc")
    error = await ws.receive_json_from(timeout=10)
    assert error["type"] == "error" and error["message"]
    await closed_with(ws, 4404)


async def test_a_socket_that_never_joins_is_closed(monkeypatch):
    from labs.viewers import ViewerConsumer

    monkeypatch.setattr(ViewerConsumer, "JOIN_TIMEOUT", 0.5)
    ws = await connect("/ws/shared/", None)
    assert (await ws.connect())[0]
    await closed_with(ws, 4404)


async def test_revoking_closes_open_view_sockets_and_the_owner_sees_viewers(user):
    lab = await sync_to_async(stored_lab)(user)
    link, token = await sync_to_async(sharing.create_link)(lab, user, label="class")
    owner = APIClient()
    owner.force_authenticate(user)
    first, _ = await joined(token)
    second, _ = await joined(token)
    listed = await sync_to_async(owner.get)(f"/api/shares/?lab={lab.id}")
    assert [entry["viewers"] for entry in listed.json()] == [2]
    await second.disconnect()
    listed = await sync_to_async(owner.get)(f"/api/shares/{link.id}/")
    assert listed.json()["viewers"] == 1 and listed.json()["last_used"] is not None
    revoked = await sync_to_async(owner.delete)(f"/api/shares/{link.id}/")
    assert revoked.status_code == 204
    await closed_with(first, 4404)


async def test_an_expiring_link_closes_its_sockets_when_it_expires(user):
    lab = await sync_to_async(stored_lab)(user)
    _, token = await sync_to_async(sharing.create_link)(
        lab, user, expires=timezone.now() + timedelta(seconds=2)
    )
    ws, _ = await joined(token)
    await closed_with(ws, 4404)
    assert await sync_to_async(sharing.find_link)(token) is None


async def test_deleting_the_lab_closes_its_view_sockets(user):
    lab = await sync_to_async(stored_lab)(user)
    _, token = await sync_to_async(sharing.create_link)(lab, user)
    ws, _ = await joined(token)
    await sync_to_async(lab.delete)()
    await closed_with(ws, 4404)


async def test_view_sockets_per_address_are_capped(user, settings):
    settings.WIRELAB_VIEWERS_PER_ADDRESS = 1
    lab = await sync_to_async(stored_lab)(user)
    _, token = await sync_to_async(sharing.create_link)(lab, user)
    first, _ = await joined(token)
    second = await viewer(token)
    assert "too many views" in (await second.receive_json_from(timeout=10))["message"]
    await closed_with(second, 4429)
    await first.disconnect()
    third, _ = await joined(token)  # the slot was given back
    await third.disconnect()


async def test_a_presenting_link_follows_the_owner_and_others_do_not(user):
    lab = await sync_to_async(stored_lab)(user)
    _, presenting = await sync_to_async(sharing.create_link)(lab, user, present=True)
    _, plain = await sync_to_async(sharing.create_link)(lab, user)
    owner = await connect(f"/ws/labs/{lab.id}/", user)
    assert (await owner.connect())[0]
    await owner.receive_json_from(timeout=30)
    follower, hello = await joined(presenting)
    assert hello["present"] is True
    bystander, _ = await joined(plain)
    await owner.send_json_to({"type": "present", "extent": {"x1": 1, "y1": 2, "x2": 3}})  # not well formed
    view = {"extent": {"x1": -10.0, "y1": 0.0, "x2": 300.0, "y2": 200.0}, "selected": ["n:a"]}
    await owner.send_json_to({"type": "present", **view})
    shown = await follower.receive_json_from(timeout=10)
    assert shown == {"type": "present", "extent": {"x1": -10.0, "y1": 0.0, "x2": 300.0, "y2": 200.0},
                     "selected": ["n:a"]}  # fmt: skip
    assert await bystander.receive_nothing(timeout=0.5)
    late, _ = await joined(presenting)  # a viewer who comes late sees what is shown now
    assert (await late.receive_json_from(timeout=10))["extent"]["x2"] == 300.0
    for ws in (owner, follower, bystander, late):
        await ws.disconnect()


async def test_a_viewer_sees_the_owner_pull_a_cable_on_a_running_lab(monitor, labs_up, user):
    lab = await run_sync(labs_up, TWO_ROUTERS, user)
    _, token = await run_sync(sharing.create_link, lab, user)
    ws, _ = await joined(token)
    await run_sync(cable, lab.id, [["a", "eth1"]], False)
    messages, _ = await collect(
        ws,
        lambda m: any(e["node"] == "a" and e.get("cable") == "pulled" for e in events_of(m, "cable.state")),
        60,
    )
    assert messages
    await run_sync(cable, lab.id, [["a", "eth1"]], True)
    await collect(
        ws, lambda m: any(e["node"] == "a" and e.get("oper") == "up" for e in events_of(m, "link.state")), 60
    )
    await ws.disconnect()


async def test_a_snapshot_asked_too_soon_is_sent_once_the_interval_has_passed(user, monkeypatch):
    from labs.viewers import ViewerConsumer

    monkeypatch.setattr(ViewerConsumer, "SNAPSHOT_INTERVAL", 0.5)
    lab = await sync_to_async(stored_lab)(user)
    _, token = await sync_to_async(sharing.create_link)(lab, user)
    ws, _ = await joined(token)
    for _ in range(5):
        await ws.send_json_to({"type": "snapshot"})
    assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"  # at once
    assert (await ws.receive_json_from(timeout=10))["type"] == "snapshot"  # the others, merged, later
    assert await ws.receive_nothing(timeout=1.0)
    await ws.disconnect()
    await asyncio.sleep(0)
