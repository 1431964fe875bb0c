"""The lab host's monitor: watches every lab namespace over netlink, Docker's events and
each node's listening sockets, samples counters about once a second, and hands typed
events to `publish(lab, events)`. It keeps only the last state it reported, so it sends
changes, never repeats.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .. import fabric, services
from ..config import EngineConfig
from ..errors import EngineError
from ..runtime import NAMESPACE_ROLES, NODE_ROLES, ContainerInfo, Runtime, node_state
from ..sockets import listening_ports
from .events import entity_key
from .processes import socket_owners
from .resolver import Resolver
from .watch import Watch

log = logging.getLogger(__name__)
Publish = Callable[[str, list[dict[str, Any]]], None]
SAMPLES_PER_TURN = 4
MAX_FAILURES = 30  # turns failed in a row before the monitor gives up (and is restarted)
# a warm sandbox claimed into a lab only changes its name
DOCKER_ACTIONS = frozenset({"start", "die", "stop", "oom", "restart", "destroy", "create", "rename"})
EVERYTHING, AGAIN = "*every-node*", "*what-runs*"  # asks: every node's state, or only what runs
UNMARKED_LOOK_SECONDS = 30  # a fabric namespace without a mark is looked at again this long


@dataclass
class Found:
    """What the discovery thread found, for the loop to take in."""

    node_events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    wanted: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # path -> lab, owner, pid
    fabrics: dict[str, str] = field(default_factory=dict)
    opened: dict[str, Watch] = field(default_factory=dict)


class Monitor:
    """Watches the labs on this lab host; `run(stop)` until `stop` is set."""

    def __init__(
        self,
        publish: Publish,
        runtime: Runtime,
        tick: float = 1.0,
        mark: str | None = None,
        config: EngineConfig | None = None,
    ):
        self.publish = publish
        self.config = config  # when given, a lab's services follow its containers' events
        self.resolver = Resolver(config) if config is not None else None  # and its names are answered
        self.followers: list[Callable[[dict[str, tuple[str, str, int]]], None]] = []  # told what runs
        self.mark = mark  # only what carries this mark is watched (None: every lab here)
        self.fabric_marks: dict[str, str] = {}  # lab -> its fabric namespace's mark, read once
        self.tick = tick
        self.runtime = runtime
        self.watches: dict[str, Watch] = {}
        self.fabrics: dict[str, str] = {}  # own fabric namespaces (name -> lab) at the last discovery
        self.seen_fabrics: set[str] = set()  # everyone's, then
        self.unmarked: dict[str, float] = {}  # fabric namespaces seen without a mark yet, since when
        self.last_turn = 0.0  # when a turn last went through: the heartbeat
        self.reported: dict[str, dict[str, dict[str, Any]]] = {}  # lab -> entity key -> last event
        self.asks: queue.Queue[str] = queue.Queue()  # container ids changed, or EVERYTHING / AGAIN
        self.found: queue.Queue[Any] = queue.Queue()  # what the discovery thread found
        self.lock = threading.Lock()  # the watches, changed by the loop, copied by discovery
        self.closing = threading.Event()  # set by close(): the discovery thread stops
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        # Naming a listening socket's process walks /proc: one thread does it, off the loop, and
        # hands the names back (a node with many processes and descriptors slows nobody's events)
        self.owned: queue.Queue[tuple[str, dict[tuple[str, int], str]]] = queue.Queue()
        self._owners = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wirelab-owners")

    # State bookkeeping ---------------------------------------------------------------

    def _emit(self, lab: str, events: list[dict[str, Any]], send: bool = True) -> list[dict[str, Any]]:
        fresh = []
        seen = self.reported.setdefault(lab, {})
        for event in events:
            key = entity_key(event)
            if seen.get(key) != event:
                seen[key] = event
                fresh.append(event)
        if fresh and send:
            self.publish(lab, fresh)
        return fresh

    # Discovery ---------------------------------------------------------------------
    # Asking the container engine what runs takes long while it is busy (a class starting
    # three hundred containers at once), so it is done by a thread of its own, which also
    # opens the watches of new namespaces; the netlink loop only takes in what it found.

    def look_up(self, changed: set[str], everything: bool) -> Found:
        """Node states of the `changed` containers (or of every one), what runs now, and
        watches opened for the namespaces not watched yet."""
        infos = self.runtime.list_containers() if everything else []
        for container_id in changed:
            with contextlib.suppress(EngineError):  # removed since
                infos.append(self.runtime.inspect(container_id))
        infos = [info for info in infos if self.mark is None or info.installation == self.mark]
        found = Found(node_events=[e for e in map(self._node_event, infos) if e])
        if self.config is not None and changed:
            for lab in sorted({info.lab for info in infos if info.lab}):
                with contextlib.suppress(EngineError):  # the next event tries again
                    services.refresh(self.config, self.runtime, lab)
        for info in self.runtime.list_containers(running=True):
            if info.role in NAMESPACE_ROLES and info.pid:
                found.wanted[f"/proc/{info.pid}/ns/net"] = (info.lab, info.node, info.pid)
        found.fabrics = self._own_fabrics()
        for name, lab in found.fabrics.items():
            found.wanted[fabric.path_of(name)] = (lab, "", 0)
        with self.lock:
            watched = set(self.watches)
        for path, (lab, owner, pid) in found.wanted.items():
            if path not in watched:
                watch = Watch(lab, owner, path, pid)
                try:
                    watch.open()
                except OSError as exc:
                    log.info("cannot watch %s: %s", path, exc)
                    if not owner:  # a fabric being made (not mounted yet): the next tick looks again
                        self.seen_fabrics.discard(os.path.basename(path))
                    continue
                found.opened[path] = watch
        return found

    def _own_fabrics(self) -> dict[str, str]:
        """This lab host's fabric namespaces, by name, with their labs' tags."""
        names = fabric.owned()
        self.seen_fabrics = set(names)
        if self.mark is None:
            return names
        now = time.monotonic()
        for name in names.keys() - self.fabric_marks.keys():
            if mark := fabric.installation_of(name):
                self.fabric_marks[name] = mark
                self.unmarked.pop(name, None)
            elif now - self.unmarked.setdefault(name, now) < UNMARKED_LOOK_SECONDS:
                # being made (its mark comes a moment after it): the next tick looks again
                self.seen_fabrics.discard(name)
        self.unmarked = {name: since for name, since in self.unmarked.items() if name in names}
        self.fabric_marks = {name: mark for name, mark in self.fabric_marks.items() if name in names}
        return {name: tag for name, tag in names.items() if self.fabric_marks.get(name) == self.mark}

    def take_in(self, found: Found) -> None:
        """Follow what runs: new namespaces get their watch, vanished ones lose theirs."""
        for lab, event in found.node_events:
            self._emit(lab, [event])
        self.fabrics = found.fabrics
        nodes = {path: seen for path, seen in found.wanted.items() if seen[1] and seen[2]}
        for follow in [*([self.resolver.follow] if self.resolver is not None else []), *self.followers]:
            follow(nodes)
        with self.lock:
            for path in list(self.watches):
                if path not in found.wanted or not os.path.exists(path):
                    self.watches.pop(path).close()
            present = {lab for lab, _, _ in found.wanted.values()}
            for lab in list(self.reported):
                if lab not in present:  # destroyed: a redeploy must report its states afresh
                    del self.reported[lab]
            fresh = []
            for path, watch in found.opened.items():
                if path in self.watches or not os.path.exists(path):
                    watch.close()
                else:
                    self.watches[path] = watch
                    fresh.append(watch)
        for watch in fresh:
            self.refresh(watch, counters=False)

    def _node_event(self, info: ContainerInfo) -> tuple[str, dict[str, Any]] | None:
        if info.role not in NODE_ROLES:
            return None
        state = node_state(self.runtime, info)
        event: dict[str, Any] = {
            "type": "node.state",
            "node": info.node,
            "state": state.state,
            "reason": state.reason,
        }
        if state.state != "running":
            event["exit_code"] = state.exit_code
        return info.lab, event

    # Reading namespaces --------------------------------------------------------------

    def refresh(self, watch: Watch, counters: bool, send: bool = True) -> list[dict[str, Any]]:
        try:
            found, raw, routes = watch.read(counters=counters)
        except Exception as exc:  # the namespace may vanish between discovery and reading
            log.debug("reading %s failed: %s", watch.path, exc)
            return []
        events = []
        for key, state in found.items():
            node, _, iface = key.partition(":")
            kind = "link.state" if watch.owner else "cable.state"
            events.append({"type": kind, "node": node, "iface": iface, **state})
        if routes is not None:
            events.append({"type": "route.state", "node": watch.owner, "routes": routes})
        if counters:
            for key, values in watch.rates(raw).items():
                node, _, iface = key.partition(":")
                events.append({"type": "counters", "node": node, "iface": iface, **values})
            if watch.owner and watch.pid:
                events.append(self._ports(watch))
        fresh = self._emit(watch.lab, events, send=False)
        if not watch.owner:
            # The kernel tells a node of its lost carrier only when linkwatch runs, up to a
            # second later; its flags already say so, so read the nodes at the cable's end now
            # and send both sides in one message.
            nodes = {e["node"] for e in fresh if e["type"] == "cable.state"}
            for other in list(self.watches.values()):
                if other.lab == watch.lab and other.owner in nodes:
                    fresh += self.refresh(other, counters=False, send=False)
        if fresh and send:
            self.publish(watch.lab, fresh)
        return fresh

    def _ports(self, watch: Watch) -> dict[str, Any]:
        ports = sorted(listening_ports(watch.pid, watch.diag))
        if ports != watch.last_ports:  # finding owners walks /proc: only when something changed
            watch.last_ports = ports
            watch.owners = {key: name for key, name in watch.owners.items() if key in ports}
            self._ask_owners(watch)
        return self._port_state(watch)

    def _port_state(self, watch: Watch) -> dict[str, Any]:
        ports = watch.last_ports
        listening = [{"protocol": p, "port": n, "process": watch.owners.get((p, n), "")} for p, n in ports]
        return {"type": "port.state", "node": watch.owner, "listening": listening}

    def _ask_owners(self, watch: Watch) -> None:
        """Have the owners' thread name the processes holding the node's listening sockets (one
        lookup at a time per node; ports that change meanwhile are looked up after it)."""
        if watch.owners_pending:
            watch.owners_again = True
            return
        watch.owners_pending, watch.owners_again = True, False
        path, pid, ports = watch.path, watch.pid, list(watch.last_ports)

        def look() -> None:
            try:
                found = socket_owners(pid, ports) if ports else {}
            except Exception:  # a process gone meanwhile: the names stay unknown
                found = {}
            self.owned.put((path, found))
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")

        with contextlib.suppress(RuntimeError):  # shut down: the monitor is closing
            self._owners.submit(look)

    def _take_owners(self) -> None:
        with contextlib.suppress(queue.Empty):
            while True:
                path, found = self.owned.get_nowait()
                watch = self.watches.get(path)
                if watch is None:
                    continue
                watch.owners_pending = False
                watch.owners.update({key: name for key, name in found.items() if key in watch.last_ports})
                if watch.owners_again:
                    self._ask_owners(watch)
                self._emit(watch.lab, [self._port_state(watch)])

    # The loop ------------------------------------------------------------------------

    def _follow_docker(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                for container_id, action in self.runtime.events():
                    if action in DOCKER_ACTIONS:
                        self.asks.put(container_id)
                    if stop.is_set():
                        break
            except Exception as exc:
                log.warning("Docker events stream ended: %s", exc)
                stop.wait(1)

    def _look(self, stop: threading.Event) -> None:
        """The discovery thread: answers the asks in batches, and wakes the loop with each."""
        while not stop.is_set():
            try:
                asked = {self.asks.get(timeout=0.5)}
            except queue.Empty:
                continue
            with contextlib.suppress(queue.Empty):
                while True:
                    asked.add(self.asks.get_nowait())
            everything = EVERYTHING in asked
            try:
                found = self.look_up(asked - {EVERYTHING, AGAIN}, everything)
            except Exception as exc:
                log.warning("looking up what runs failed: %s", exc)
                self.asks.put(EVERYTHING if everything else AGAIN)
                stop.wait(1)
                continue
            if stop.is_set():
                for watch in found.opened.values():
                    watch.close()
                return
            self.found.put(found)
            with contextlib.suppress(OSError):  # closed meanwhile: stopping
                self._wake_w.send(b"x")

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set. An error in one turn is logged and the watch is rebuilt
        after a pause that grows with repeated failures; after MAX_FAILURES in a row the error
        is raised, so whoever runs the monitor can exit and be restarted."""
        threading.Thread(target=self._follow_docker, args=(stop,), daemon=True).start()
        threading.Thread(target=self._look, args=(self.closing,), name="discovery", daemon=True).start()
        if self.resolver is not None:
            answering = threading.Thread(target=self.resolver.run, args=(self.closing,), name="resolver")
            answering.daemon = True
            answering.start()
        selector = selectors.DefaultSelector()  # epoll: no limit on how many namespaces
        selector.register(self._wake_r, selectors.EVENT_READ)
        failures, self.next_tick = 0, 0.0
        self.sampling: list[Watch] = []
        try:
            while not stop.is_set():
                try:
                    if failures or not self.next_tick:
                        self.asks.put(EVERYTHING)
                        self.next_tick = time.monotonic() + self.tick
                    self._turn(selector)
                    failures = 0
                    self.last_turn = time.monotonic()
                except Exception as exc:
                    failures += 1
                    if failures >= MAX_FAILURES:
                        raise
                    log.warning("monitor turn failed (%s in a row): %s", failures, exc, exc_info=True)
                    stop.wait(min(2**failures * 0.25, 10))
        finally:
            selector.close()
            self.close()

    def _turn(self, selector: selectors.BaseSelector) -> None:
        registered = {key.fd for key in selector.get_map().values()} - {self._wake_r.fileno()}
        by_fd = {w.events.fileno(): w for w in self.watches.values() if w.events is not None}
        for fd in registered - set(by_fd):
            selector.unregister(fd)
        for fd in set(by_fd) - registered:
            selector.register(fd, selectors.EVENT_READ)
        timeout = 0.0 if self.sampling else max(0.0, self.next_tick - time.monotonic())
        for key, _ in selector.select(min(timeout, 0.5)):
            if key.fileobj is self._wake_r:
                self._take_found()
                self._take_owners()
            elif key.fd in by_fd:
                by_fd[key.fd].drain()
                self.refresh(by_fd[key.fd], counters=False)
        if time.monotonic() >= self.next_tick and not self.sampling:
            self.next_tick = time.monotonic() + self.tick
            if set(fabric.owned()) != self.seen_fabrics:
                self.asks.put(AGAIN)  # a fabric made after its containers' events: watch it too
            self.sampling = list(self.watches.values())
        # a few samples per turn, so events never wait behind a whole round of them
        for watch in self.sampling[:SAMPLES_PER_TURN]:
            if watch.path in self.watches:
                self.refresh(watch, counters=True)
        self.sampling = self.sampling[SAMPLES_PER_TURN:]

    def _take_found(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while self._wake_r.recv(4096):
                pass
        with contextlib.suppress(queue.Empty):
            while True:
                self.take_in(self.found.get_nowait())

    def close(self) -> None:
        self.closing.set()
        self._owners.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(queue.Empty):
            while True:  # found but not taken in
                for watch in self.found.get_nowait().opened.values():
                    watch.close()
        for watch in self.watches.values():
            watch.close()
        self.watches.clear()
        self._wake_r.close()
        self._wake_w.close()
        self.runtime.close()
