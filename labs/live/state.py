"""The live state of each lab, kept in Redis: one hash of entities plus its sequence number.

Every message a lab's group receives carries the sequence number it moved the state to,
so a client that sees a gap re-reads the snapshot, which is consistent with a number.
"""

from __future__ import annotations

import json
import logging

import redis
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

from worker.live.events import PER_NODE, entity_key

log = logging.getLogger(__name__)
SEQ = "seq"
HEARTBEAT_TTL = 20  # seconds a lab host monitor's heartbeat lasts in Redis


def heartbeat_key(labhost: str = "*") -> str:
    """Where a lab host's monitor says it runs (`*`: every lab host's, to scan for)."""
    return f"wirelab:labhost:{labhost}:monitor"


def group_name(lab_tag: str) -> str:
    return f"lab.{lab_tag}"


def state_key(lab_tag: str) -> str:
    return f"wirelab:live:{lab_tag}"


def record(pipe, lab_tag: str, events: list[dict]) -> None:
    """Queue the state update on a Redis MULTI pipeline; its first result is the new seq."""
    key = state_key(lab_tag)
    pipe.hincrby(key, SEQ, 1)
    pipe.hset(key, mapping={entity_key(e): json.dumps(e) for e in events})


def message(seq: int, events: list[dict]) -> dict:
    return {"type": "lab.events", "payload": {"type": "events", "seq": seq, "events": events}}


def _client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


def publish_status(lab_tag: str, status: str, reason: str = "", by: str = "") -> None:
    """A lab's status to its sockets (a stopped lab's live state cleared first), with the name of
    who caused it when someone did. Live state is a courtesy, the lab's row is the truth: Redis
    away, this is logged and nothing more."""
    try:
        if status == "stopped":
            clear(lab_tag)
        event = {"type": "lab.status", "status": status, "reason": reason[:500], "by": by[:150]}
        publish_now(lab_tag, [event])
    except Exception as exc:
        log.warning("could not publish the status of lab %s: %s", lab_tag, exc)


def publish_now(lab_tag: str, events: list[dict]) -> int:
    """Record and send events at once (for the rare ones: lab status, impairments)."""
    client = _client()
    try:
        pipe = client.pipeline(transaction=True)
        record(pipe, lab_tag, events)
        seq = pipe.execute()[0]
    finally:
        client.close()
    async_to_sync(get_channel_layer().group_send)(group_name(lab_tag), message(seq, events))
    return seq


# Forget a lab's entities but keep its sequence number: a client holding seq N drops any message
# numbered N or less, so starting again from 1 would silence the lab until the next snapshot.
_CLEAR = """
local seq = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[1])
if seq then redis.call('HSET', KEYS[1], ARGV[1], seq) end
"""


def clear(lab_tag: str) -> None:
    """Forget what the lab's live state holds; its sequence number goes on from where it was."""
    client = _client()
    try:
        client.eval(_CLEAR, 1, state_key(lab_tag), SEQ)
    finally:
        client.close()


SECTIONS = {
    "node.state": "nodes",
    "node.health": "health",
    "port.state": "ports",
    "route.state": "routes",
    "counters": "counters",
    "impairment": "impairments",
}


def snapshot(lab_tag: str) -> dict:
    """The whole live state of a lab with the sequence number it reflects."""
    client = _client()
    try:
        raw = client.hgetall(state_key(lab_tag))
    finally:
        client.close()
    out: dict = {"seq": int(raw.pop(SEQ.encode(), 0)), "lab": None, "links": {}}
    out.update({section: {} for section in SECTIONS.values()})
    for value in raw.values():
        event = json.loads(value)
        kind = event["type"]
        if kind == "lab.status":
            out["lab"] = event
        elif kind == "lab.document":
            out["document"] = event["version"]
        elif kind in ("link.state", "cable.state"):
            name = f"{event['node']}:{event['iface']}"
            link = out["links"].setdefault(name, {"node": event["node"], "iface": event["iface"]})
            link.update({k: v for k, v in event.items() if k != "type"})
        elif kind in SECTIONS:
            name = event["node"] if kind in PER_NODE else f"{event['node']}:{event['iface']}"
            out[SECTIONS[kind]][name] = event
    return out


def console_channel(labhost: str) -> str:
    """The channel on which lab host `labhost` takes requests for consoles."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in labhost)[:60]
    return f"wirelab.consoles.{safe}"


def console_watch_group(lab_tag: str, node: str) -> str:
    """The group that hears the output of every console on a node (a teacher watching)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in node)[:63]
    return f"watch.{lab_tag}.{safe}"
