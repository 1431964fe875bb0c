"""The web half of controls on a running lab: check the request against the lab's document
and status, then queue it as a job on the lab host (see `labs.hostside.jobs`)."""

from __future__ import annotations

from django.conf import settings

from topology.kinds import get_kind

from . import lifecycle
from .access import shell_refusal
from .lifecycle import enqueue_capture
from .models import Capture, Lab, Operation
from .store.documents import lab_document

NODE_ACTIONS = ("stop", "start", "restart", "kill")
IMPAIRMENT_FIELDS = ("delay_ms", "jitter_ms", "loss_pct", "rate_kbit")


class ControlRefused(lifecycle.OperationRefused):
    """A control that makes no sense for the lab as it is; the message says why. (A per-user
    limit passed is `lifecycle.LimitReached`, as for deploys.)"""


def _running(lab: Lab) -> None:
    if lab.status not in ("running", "degraded"):
        raise ControlRefused(f"lab {lab.slug} is {lab.status}; deploy it first")


def _interfaces(lab: Lab, ends: list[tuple[str, str]]) -> list[list[str]]:
    doc = lab_document(lab)
    linked = {end for link in doc.links for end in link.endpoints}
    for node, iface in ends:
        found = doc.nodes.get(node)
        if found is None or (iface not in found.interfaces and f"{node}:{iface}" not in linked):
            raise ControlRefused(f"lab {lab.slug} has no interface {node}:{iface}")
    return [[node, iface] for node, iface in ends]


def request_cable(lab: Lab, ends: list[tuple[str, str]], plugged: bool, user=None) -> Operation:
    _running(lab)
    return _on_ends(lab, Operation.Kind.CABLE, _interfaces(lab, ends), {"plugged": plugged}, user)


def request_impairment(lab: Lab, ends: list[tuple[str, str]], values: dict, user=None) -> Operation:
    _running(lab)
    values = {k: values.get(k, 0) for k in IMPAIRMENT_FIELDS}
    return _on_ends(lab, Operation.Kind.IMPAIR, _interfaces(lab, ends), {"values": values}, user)


def _on_ends(lab: Lab, kind: str, ends: list[list[str]], params: dict, user) -> Operation:
    """A job on cable ends, on the lab host of each (the two ends of a cable between nodes on two
    lab hosts: a job each, the first returned)."""
    by_host: dict[str, list[list[str]]] = {}
    for end in ends:
        by_host.setdefault(lab.host_of(end[0]), []).append(end)
    jobs = [_job(lab, kind, {"ends": mine, **params}, user, host) for host, mine in by_host.items()]
    return jobs[0]


def request_node_action(lab: Lab, node: str, action: str, user=None, enqueue: bool = True) -> Operation:
    _running(lab)
    if action not in NODE_ACTIONS:
        raise ControlRefused(f"'{action}' is not one of {', '.join(NODE_ACTIONS)}")
    _node_with_container(lab, node)
    params = {"node": node, "action": action}
    return lifecycle.request_job(lab, Operation.Kind.NODE, params, user, enqueue, labhost=lab.host_of(node))


def request_exec(lab: Lab, node: str, command: list[str], timeout: float = 60, user=None) -> Operation:
    _node_with_container(lab, node)
    if (refusal := shell_refusal(lab.id)) is not None:
        raise ControlRefused(refusal)
    params = {"node": node, "command": command, "timeout": timeout}
    return _job(lab, Operation.Kind.EXEC, params, user, lab.host_of(node))


def request_nat(lab: Lab, node: str, user=None) -> Operation:
    """Read a running emulated host's NAT rules (with counters) and tracked connections."""
    _running(lab)
    _node_with_container(lab, node, "sandboxed", "emulated host or router")
    return _job(lab, Operation.Kind.NAT, {"node": node}, user, lab.host_of(node))


def request_trace(lab: Lab, node: str, probe: dict, user=None) -> Operation:
    """Trace a probe from `node`: `target` (an address or a name), `protocol` (icmp, tcp, udp),
    `port` (tcp and udp), `timeout` in seconds; the operation's result is the journey."""
    _running(lab)
    _node_with_container(lab, node)
    if probe["protocol"] != "icmp" and not probe.get("port"):
        raise ControlRefused(f"a {probe['protocol']} probe needs a port")
    params = {"node": node, **probe}
    return _job(lab, Operation.Kind.TRACE, params, user, lab.host_of(node))


def _node_with_container(lab: Lab, node: str, trait: str = "has_container", what: str = "node") -> None:
    """Refuse unless the lab's `node` is of a kind with `trait`."""
    found = lab_document(lab, instances=True).nodes.get(node)
    kind = get_kind(found.kind) if found else None
    if kind is None or not getattr(kind, trait):
        suffix = " with a container" if trait == "has_container" else ""
        raise ControlRefused(f"lab {lab.slug} has no {what} {node}{suffix}")


def request_capture(lab: Lab, node: str, iface: str, seconds: int, max_bytes: int) -> Capture:
    _running(lab)
    _interfaces(lab, [(node, iface)])
    busy = Capture.objects.filter(
        lab__owner=lab.owner, status__in=[Capture.Status.QUEUED, Capture.Status.RUNNING]
    )
    if not lab.owner.is_staff and busy.count() >= settings.WIRELAB_MAX_CAPTURES_IN_FLIGHT:
        raise lifecycle.LimitReached(f"you have {busy.count()} captures under way: let one finish first")
    cap = Capture.objects.create(lab=lab, node=node, iface=iface, seconds=seconds, max_bytes=max_bytes)
    enqueue_capture(cap.id, lab.host_of(node))
    return cap


def _job(lab: Lab, kind: str, params: dict, user, labhost: str | None = None) -> Operation:
    return lifecycle.request_job(lab, kind, params, user, labhost=labhost)
