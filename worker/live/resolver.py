"""The lab's embedded DNS, as Docker's: every node namespace on this lab host has a resolver at
127.0.0.11 (its resolv.conf says so, see `containers.RESOLVER`), answered from the names each
converge keeps (`worker/names.py`, `topology/names.py`).

Like Docker's, the socket listens on 127.0.0.11 at a port of its own, and a rule of the namespace
(table `wirelab_dns`) sends what is asked of port 53 there: a lab's own DNS server can still listen
on port 53 on every address. The sockets are made from this thread (entering each namespace
briefly) and closed when their namespace is no longer followed, so they never keep a stopped
container's namespace alive for long.

Nothing is forwarded: a name the lab does not have is answered NXDOMAIN at once. Each namespace is
answered at most RATE queries a second; beyond that its socket is left alone until the next second
(the kernel drops what overflows), so a flood from one node never slows the others.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.opcode
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.reversename
import dns.rrset

from topology.names import lookup, reverse
from topology.spec import NamesSpec

from .. import kept, names, nsock
from ..config import EngineConfig
from ..containers import RESOLVER
from ..errors import EngineError
from ..nat import local_redirect, nft
from ..wakeable import WakeableSelector

log = logging.getLogger(__name__)
TABLE = "wirelab_dns"
RATE = 200  # queries a second per namespace
TTL = 5  # seconds: a lab's names change with its document
MAX_DATAGRAM = 512  # plain DNS over UDP; a longer answer is truncated (TC)


def redirect(port: int) -> dict[str, Any]:
    """The namespace's rule: 127.0.0.11:53 is the resolver's own port."""
    return local_redirect(TABLE, RESOLVER, "udp", 53, port)


def answer(names: NamesSpec | None, owner: str, data: bytes) -> bytes | None:
    """The reply to one query from `owner`'s namespace; None for what is not a DNS query."""
    try:
        query = dns.message.from_wire(data)
    except (dns.exception.DNSException, ValueError):
        return None
    if query.flags & dns.flags.QR:
        return None  # a reply: never answer one
    reply = dns.message.make_response(query, recursion_available=False)
    reply.flags |= dns.flags.AA
    if query.opcode() != dns.opcode.QUERY or len(query.question) != 1:
        reply.set_rcode(dns.rcode.NOTIMP if query.opcode() != dns.opcode.QUERY else dns.rcode.FORMERR)
        return reply.to_wire()
    question = query.question[0]
    if question.rdtype == dns.rdatatype.PTR:
        _reverse(reply, question, names, owner)
    else:
        _forward(reply, question, names, owner)
    try:
        return reply.to_wire(max_size=MAX_DATAGRAM)
    except dns.exception.TooBig:
        reply.answer.clear()
        reply.flags |= dns.flags.TC
        return reply.to_wire()


def _forward(
    reply: dns.message.Message, question: dns.rrset.RRset, names: NamesSpec | None, owner: str
) -> None:
    asked = question.name.to_text(omit_final_dot=True).lower()
    if names is not None and asked in names.srv:
        if question.rdtype in (dns.rdatatype.SRV, dns.rdatatype.ANY):
            _services(reply, question, names, owner, names.srv[asked])
        return
    found = lookup(names, owner, asked) if names else None
    if found is None:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    elif question.rdtype in (dns.rdatatype.A, dns.rdatatype.ANY):
        rrset = dns.rrset.from_text_list(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.A, found)
        reply.answer.append(rrset)
    # another type of a name the lab has (AAAA, MX...): no data, not "no such name"


def _services(
    reply: dns.message.Message,
    question: dns.rrset.RRset,
    names: NamesSpec,
    owner: str,
    records: list[list[Any]],
) -> None:
    """SRV records (priority 0, weight 1) and, as Mesos-DNS does, their targets' addresses."""
    texts = [f"0 1 {port} {target}." for target, port in records]
    reply.answer.append(
        dns.rrset.from_text_list(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.SRV, texts)
    )
    for target in dict.fromkeys(t for t, _ in records):
        found = lookup(names, owner, target)
        if found:
            reply.additional.append(
                dns.rrset.from_text_list(f"{target}.", TTL, dns.rdataclass.IN, dns.rdatatype.A, found)
            )


def _reverse(
    reply: dns.message.Message, question: dns.rrset.RRset, names: NamesSpec | None, owner: str
) -> None:
    try:
        address = dns.reversename.to_address(question.name)
    except (dns.exception.DNSException, ValueError):
        address = ""
    found = reverse(names, owner, address) if names and address else None
    if found is None:
        reply.set_rcode(dns.rcode.NXDOMAIN)
    else:
        reply.answer.append(
            dns.rrset.from_text_list(question.name, TTL, dns.rdataclass.IN, dns.rdatatype.PTR, [f"{found}."])
        )


@dataclass
class Listener:
    lab: str
    owner: str
    sock: socket.socket
    answered: int = 0  # in the current second
    second: float = 0.0
    paused: bool = False
    pauses: int = 0  # seconds whose share it spent


class Resolver:
    """Serves the followed namespaces from a thread of its own: `follow()` says which, `run(stop)`."""

    def __init__(self, config: EngineConfig, rate: int = RATE):
        self.config = config
        self.rate = rate
        self.wanted: dict[str, tuple[str, str, int]] = {}  # namespace path -> lab, owner, pid
        self.listeners: dict[str, Listener] = {}  # only this thread changes them
        self.failed: dict[str, float] = {}  # path -> when making its listener failed: not retried at once
        self.cached: dict[str, tuple[int, NamesSpec | None]] = {}  # lab -> its names file's mtime, its names
        self.lock = threading.Lock()
        self.selector = WakeableSelector()

    def follow(self, wanted: dict[str, tuple[str, str, int]]) -> None:
        """The node namespaces to answer in (path -> lab, owner, pid); the others are let go."""
        with self.lock:
            changed = wanted != self.wanted
            self.wanted = dict(wanted)
        if changed:
            self.selector.wake()

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._reconcile()
                for key in self.selector.ready(0.5):
                    self._serve(key.data)
        finally:
            for path in list(self.listeners):
                self._drop(path)
            self.selector.close()

    def _reconcile(self) -> None:
        with self.lock:
            wanted = dict(self.wanted)
        for path, listener in list(self.listeners.items()):
            if wanted.get(path, ("", "", 0))[:2] != (listener.lab, listener.owner):
                self._drop(path)
        now = time.monotonic()
        for path, (lab, owner, pid) in wanted.items():
            if path in self.listeners or now - self.failed.get(path, -60.0) < 10:
                continue
            try:
                self.listeners[path] = listener = Listener(lab, owner, self._listen(path, pid))
            except (OSError, EngineError) as exc:  # vanished, or nftables refused: looked at again later
                log.info("no DNS in %s's namespace (%s): %s", owner, path, exc)
                self.failed[path] = now
                continue
            self.selector.register(listener.sock, path)
        self.failed = {p: t for p, t in self.failed.items() if p in wanted}
        labs = {lab for lab, _, _ in wanted.values()}
        self.cached = {lab: held for lab, held in self.cached.items() if lab in labs}
        for path, listener in self.listeners.items():
            if listener.paused and now - listener.second >= 1:
                listener.paused, listener.answered, listener.second = False, 0, now
                self.selector.register(listener.sock, path)

    @staticmethod
    def _listen(path: str, pid: int) -> socket.socket:
        sock = nsock.socket_in(path, socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((RESOLVER, 0))
            sock.setblocking(False)
            nft(pid, redirect(sock.getsockname()[1]), "-f", "-")
        except BaseException:
            sock.close()
            raise
        return sock

    def _drop(self, path: str) -> None:
        listener = self.listeners.pop(path)
        if not listener.paused:
            self.selector.unregister(listener.sock)
        listener.sock.close()

    def _serve(self, path: str) -> None:
        listener = self.listeners.get(path)
        if listener is None:
            return
        now = time.monotonic()
        if now - listener.second >= 1:
            listener.answered, listener.second = 0, now
        names_now = self._names(listener.lab)
        while listener.answered < self.rate:
            try:
                data, peer = listener.sock.recvfrom(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # an error queued on the socket (an unreachable peer): read again next time
            listener.answered += 1
            reply = answer(names_now, listener.owner, data)
            if reply is not None:
                with contextlib.suppress(OSError):
                    listener.sock.sendto(reply, peer)
        self.selector.unregister(listener.sock)  # its second's share is spent
        listener.paused = True
        listener.pauses += 1

    def _names(self, lab: str) -> NamesSpec | None:
        path = kept.path(self.config, names.KEPT, lab)
        try:
            stamp = os.stat(path).st_mtime_ns
        except FileNotFoundError:
            stamp = 0
        cached = self.cached.get(lab)
        if cached is None or cached[0] != stamp:
            cached = self.cached[lab] = (stamp, names.read(self.config, lab) if stamp else None)
        return cached[1]
