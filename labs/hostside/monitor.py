"""The monitor as a service of this lab host: the engine's Monitor, publishing through a
LabPublisher on an event loop of its own, and keeping link and node changes in each
lab's events."""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection

from labs.models import Lab
from topology.names import API_ADDRESS
from worker.engineapi import EngineApi, TcpDoor

from ..live.state import HEARTBEAT_TTL, heartbeat_key
from ..models import LabEvent
from . import marathon_api
from .docker_api import LabDockerApi
from .engine import this_labhost
from .healer import Healer
from .marathon_api import LabMarathonApi
from .publisher import LabPublisher

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 5


class MonitorService:
    """Start with `start()`, stop with `stop()`; `publisher.sent` counts messages."""

    def __init__(self, tick: float = 1.0, window: float = 0.2):
        self.loop = asyncio.new_event_loop()
        self.publisher = LabPublisher(settings.REDIS_URL, get_channel_layer(), window)
        self.publisher.loop = self.loop
        self.monitor = this_labhost().monitor(self.publish, tick=tick)
        docker = LabDockerApi()
        self.docker_api = EngineApi(docker, self.monitor.runtime.engine_socket)
        self.healer = Healer(
            docker.changes, publish=self.publish
        )  # one change of a lab at a time from the three
        marathon = LabMarathonApi(docker.changes, self.healer)
        door = TcpDoor(API_ADDRESS, marathon_api.PORT, "wirelab_api")
        self.marathon_api = EngineApi(marathon, self.monitor.runtime.engine_socket, door)
        self.monitor.followers += [self.docker_api.follow, self.marathon_api.follow, self.healer.follow]
        self.stopping = threading.Event()
        self.done = threading.Event()
        self.failure: Exception | None = None
        self.beats = 0
        self.threads: list[threading.Thread] = []
        self.lab_ids: dict[str, int | None] = {}
        self.history: queue.Queue = queue.Queue()

    def publish(self, lab_tag: str, events: list[dict]) -> None:
        self.publisher.submit_threadsafe(lab_tag, events)
        if any(e["type"] in ("link.state", "node.state") for e in events):
            self.history.put((lab_tag, events))  # written by a thread of its own: the database
            # may be slow, and the next netlink change must not wait for it

    def _write_history(self) -> None:
        try:
            while True:
                item = self.history.get()
                if item is None:
                    return
                try:
                    self._remember(*item)
                except Exception as exc:  # the database away: the history misses these lines
                    log.warning("could not write a lab's history: %s", exc)
                    connection.close()
        finally:
            connection.close()

    def _remember(self, lab_tag: str, events: list[dict]) -> None:
        if lab_tag not in self.lab_ids:
            self.lab_ids[lab_tag] = Lab.objects.filter(tag=lab_tag).values_list("id", flat=True).first()
        lab_id = self.lab_ids[lab_tag]
        if lab_id is None:
            return
        rows = []
        for event in events:
            if event["type"] == "link.state":
                rows.append((LabEvent.Kind.LINK, f"{event['node']}:{event['iface']} is {event['oper']}"))
            elif event["type"] == "node.state":
                reason = f": {event['reason']}" if event.get("reason") else ""
                rows.append((LabEvent.Kind.NODE, f"{event['node']} is {event['state']}{reason}"))
        LabEvent.objects.bulk_create(LabEvent(lab_id=lab_id, kind=k, message=m[:1000]) for k, m in rows)

    def start(self) -> None:
        loop_thread = threading.Thread(target=self.loop.run_forever, name="publisher", daemon=True)
        monitor_thread = threading.Thread(target=self._watch, name="monitor")
        beat_thread = threading.Thread(target=self._heartbeat, name="heartbeat", daemon=True)
        history_thread = threading.Thread(target=self._write_history, name="history", daemon=True)
        api_threads = [
            threading.Thread(target=api.run, args=(self.stopping,), name=name, daemon=True)
            for api, name in ((self.docker_api, "docker-api"), (self.marathon_api, "marathon-api"))
        ]
        healer_thread = threading.Thread(target=self._heal, name="orchestrator", daemon=True)
        self.threads = [loop_thread, monitor_thread, beat_thread, history_thread, *api_threads, healer_thread]
        for thread in self.threads:
            thread.start()

    def _watch(self) -> None:
        try:
            self.monitor.run(self.stopping)
        except Exception as exc:  # fatal: recorded, so the command exits non-zero
            log.exception("the monitor stopped")
            self.failure = exc
        finally:
            connection.close()  # this thread's own database connection
            self.done.set()

    def _heal(self) -> None:
        try:
            self.healer.run(self.stopping)
        except Exception:  # the orchestrator's upkeep stops; the rest of the monitor goes on
            log.exception("the orchestrator's upkeep stopped")

    def _heartbeat(self) -> None:
        """Every few seconds, while the monitor's turns go through, say so in Redis (with an
        expiry), with this lab host's engine version: /health/ reads it."""
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
        try:
            while not self.done.wait(0 if not self.beats else HEARTBEAT_SECONDS):
                if time.monotonic() - self.monitor.last_turn > 3 * HEARTBEAT_SECONDS:
                    self.done.wait(0.5)  # not turning yet, or stuck: no heartbeat meanwhile
                    continue
                try:
                    beat = {"labhost": settings.WIRELAB_LABHOST, "engine": self.monitor.runtime.version(),
                            "namespaces": len(self.monitor.watches), "at": time.time()}  # fmt: skip
                    client.set(heartbeat_key(settings.WIRELAB_LABHOST), json.dumps(beat), ex=HEARTBEAT_TTL)
                    self.beats += 1
                except Exception as exc:  # Redis or the engine away: the heartbeat lapses
                    log.warning("no heartbeat: %s", exc)
        finally:
            client.close()

    def stop(self) -> None:
        self.stopping.set()
        self.done.set()
        self.threads[1].join(timeout=10)
        self.history.put(None)
        self.threads[3].join(timeout=10)
        asyncio.run_coroutine_threadsafe(self.publisher.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.threads[0].join(timeout=10)
        self.loop.close()
