"""Lab hosts as a fleet: each registers and heartbeats; one silent too long is lost (its labs
say so); a lab that is not running anywhere is placed on a lab host with room, or waits its
turn; labs can be moved off a lab host (drain, evacuate).

A lab lives on one lab host (`Lab.labhost`). Moving it gives it a new ownership tag, so what
its old lab host still holds can never be mistaken for the moved lab: that host's garbage
collection takes it down (the old tag belongs to no lab), even on a machine shared by several
lab hosts. Everything here is database work; nothing touches a kernel or a container engine.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from topology.compiler import locations
from topology.document import LabDoc

from . import stitching
from .live.state import group_name, publish_status
from .models import Lab, LabHost, LabStatus, Operation
from .store.models import new_lab_tag

log = logging.getLogger(__name__)
UNPLACED = ""  # the lab host of a deploy that waits for room
IDLE = (LabStatus.DRAFT, LabStatus.STOPPED, LabStatus.FAILED)
AT_REST = (*IDLE, LabStatus.LOST)  # holds nothing that counts against a lab host's capacity
UNFINISHED = (Operation.Status.QUEUED, Operation.Status.RUNNING)


class Unplaceable(Exception):
    """The lab can never be placed as things are; the message says why."""


# Registration and heartbeats (called by the lab host's own worker) ---------------------------


def register(
    name: str,
    underlay: str | None,
    capacity: int,
    memory_mb: int,
    version: str,
    *,
    cni_plugins: tuple[str, ...] | list[str] = (),
) -> LabHost:
    """This lab host is up: its record made or refreshed; if it was lost, it is back."""
    now = timezone.now()
    host, _ = LabHost.objects.update_or_create(
        name=name,
        defaults={"underlay": underlay, "capacity_containers": capacity, "memory_mb": memory_mb,
                  "version": version[:100], "last_heartbeat": now, "lost_since": None,
                  "cni_plugins": sorted(cni_plugins)},
    )  # fmt: skip
    return host


def check_cni_plugins(lab: Lab, doc: LabDoc) -> None:
    """Every plugin a CNI network of the lab chains is one its host's lab host said it has (a lab
    host that said nothing is not judged: its engine refuses a missing plugin by name)."""
    said = dict(LabHost.objects.values_list("name", "cni_plugins"))
    where = locations(doc, lab.labhost)
    for name, net in doc.networks.items():
        if net.kind != "cni" or net.host not in where:
            continue
        labhost = where[net.host]
        have = said.get(labhost) or []
        for index, plugin in enumerate((net.config or {}).get("plugins", [])):
            kind = plugin.get("type")
            if have and kind not in have:
                raise Unplaceable(
                    f"networks.{name}.config.plugins[{index}].type: lab host '{labhost}' has no CNI plugin "
                    f"'{kind}' (it has {', '.join(have)})"
                )


def beat(name: str, containers: int | None, memory_free_mb: int = 0, warm: list[dict] | None = None) -> bool:
    """Alive now; `containers` running (None: unknown this time, the last count stays), the
    memory it has available and its warm sandboxes per image (None: unknown, the last stays).
    False when the lab host must register again: its record is gone, or it was found lost
    meanwhile."""
    counted: dict = {} if containers is None else {"containers": containers}
    if memory_free_mb:
        counted["memory_free_mb"] = memory_free_mb
    if warm is not None:
        counted["warm"] = warm
    mine = LabHost.objects.filter(name=name, lost_since__isnull=True)
    return bool(mine.update(last_heartbeat=timezone.now(), **counted))


def alive(now=None) -> list[LabHost]:
    """Lab hosts heard from within the lost window."""
    cutoff = (now or timezone.now()) - timedelta(seconds=settings.WIRELAB_LABHOST_LOST_SECONDS)
    return list(LabHost.objects.filter(lost_since__isnull=True, last_heartbeat__gte=cutoff))


def sweep(now=None) -> list[str]:
    """Mark the lab hosts silent for longer than the window lost: their labs say "lab host
    lost", and their unfinished jobs end failed (nobody is there to carry them out)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WIRELAB_LABHOST_LOST_SECONDS)
    marked = []
    for host in LabHost.objects.filter(lost_since__isnull=True, last_heartbeat__lt=cutoff):
        if not LabHost.objects.filter(id=host.id, lost_since__isnull=True).update(lost_since=now):
            continue  # another sweeper was first
        since = timezone.localtime(host.last_heartbeat)
        reason = f"lab host {host.name} lost: no heartbeat since {since:%H:%M:%S}"
        log.warning("%s", reason)
        Operation.objects.filter(labhost=host.name, status__in=UNFINISHED).update(
            status=Operation.Status.FAILED, error=reason, finished=now
        )
        for lab in on_labhost(host.name).exclude(status__in=AT_REST):
            _set_status(lab, LabStatus.LOST, reason)
        marked.append(host.name)
    stitching.release_old()
    return marked


def _set_status(lab: Lab, status: str, reason: str) -> None:
    Lab.objects.filter(id=lab.id).update(status=status, status_reason=reason[:500])
    publish_status(lab.tag, status, reason)


def lost_labs(name: str) -> list[Lab]:
    return list(on_labhost(name).filter(status=LabStatus.LOST))


def on_labhost(name: str):
    """The labs a lab host holds something of: its own, and parts of labs spanning lab hosts."""
    return Lab.objects.filter(Q(labhost=name) | Q(parts__has_key=name))


def lost_among(names: list[str]) -> str | None:
    """The first of these lab hosts that is lost, if any."""
    lost = set(
        LabHost.objects.filter(name__in=names, lost_since__isnull=False).values_list("name", flat=True)
    )
    return next((name for name in names if name in lost), None)


# Placement ------------------------------------------------------------------------------------


def placed_labs():
    """Labs that hold a place on their lab host: running, starting or stopping (not at rest, and
    not waiting for room, whatever lab host they were on before)."""
    return Lab.objects.exclude(status__in=AT_REST).exclude(id__in=waiting().values("lab_id"))


def usage(names: list[str]) -> dict[str, tuple[int, int]]:
    """Labs placed on each lab host and their containers (`Lab.containers`), in one query."""
    out = dict.fromkeys(names, (0, 0))
    rows = placed_labs().filter(labhost__in=names).values("labhost")
    for row in rows.annotate(labs=Count("id"), total=Sum("containers")):
        out[row["labhost"]] = (row["labs"], row["total"] or 0)
    parts = placed_labs().exclude(parts={}).values_list("parts", flat=True)
    for host, containers in stitching.spanned(parts).items():
        if host in out:
            out[host] = (out[host][0] + 1, out[host][1] + containers)
    return out


def loads(names: list[str]) -> dict[str, int]:
    """Containers of the labs placed on each lab host."""
    return {name: containers for name, (_, containers) in usage(names).items()}


def choose(lab: Lab, doc: LabDoc, avoid: str | None = None) -> str | None:
    """The lab host for `lab` (its `containers` counted from its spec), which runs nowhere now;
    None when the fitting ones are full
    (it waits). Raises Unplaceable when it can never be placed. With no lab host alive (none
    registered yet, as on a first start), the lab stays where it is and its job waits there."""
    hosts = {h.name: h for h in LabHost.objects.select_for_update().order_by("name")}
    need = lab.containers
    pin = doc.placement.labhost if doc.placement else None
    if pin and pin != avoid:
        return _pinned(hosts.get(pin), pin, need)
    living = {h.name for h in alive()}
    usable = [
        h for h in hosts.values() if h.name in living and h.state == LabHost.State.ACTIVE and h.name != avoid
    ]
    if not usable:
        if not living:
            return lab.labhost if lab.labhost != avoid else None
        raise Unplaceable("no lab host takes new labs now: every one is cordoned, draining or lost")
    largest = max(h.capacity_containers for h in usable)
    if need > largest:
        raise Unplaceable(f"the lab needs {need} containers and the largest lab host holds {largest}")
    load = loads([h.name for h in usable])
    fits = [h for h in usable if load[h.name] + need <= h.capacity_containers and has_memory_for(h, need)]
    if not fits:
        return None

    def fullness(h: LabHost) -> float:
        return load[h.name] / max(h.capacity_containers, 1)

    pack = settings.WIRELAB_PLACEMENT == "pack"
    return (max(fits, key=fullness) if pack else min(fits, key=fullness)).name


def has_memory_for(host: LabHost, containers: int) -> bool:
    """Whether the lab host had, at its last heartbeat, the memory `containers` more are expected to
    take beside its reserve (one that did not say counts as having it)."""
    if not host.memory_free_mb:
        return True
    per_container, reserve = (
        settings.WIRELAB_MEMORY_PER_CONTAINER_MB,
        settings.WIRELAB_LABHOST_MEMORY_RESERVE_MB,
    )
    return host.memory_free_mb >= containers * per_container + reserve


def _pinned(host: LabHost | None, pin: str, need: int) -> str | None:
    host = _check_pin(host, pin, "placement.labhost")
    if need > host.capacity_containers:
        holds = host.capacity_containers
        raise Unplaceable(f"the lab needs {need} containers and lab host '{pin}' holds {holds}")
    room = host.capacity_containers - loads([pin])[pin]
    return pin if need <= room and has_memory_for(host, need) else None


def _check_pin(host: LabHost | None, pin: str, path: str) -> LabHost:
    if host is None:
        raise Unplaceable(f"{path}: there is no lab host named '{pin}'")
    if host.lost:
        raise Unplaceable(f"{path}: lab host '{pin}' is lost")
    if host.state != LabHost.State.ACTIVE:
        raise Unplaceable(f"{path}: lab host '{pin}' is {host.state} and takes no new labs")
    return host


def check_node_pins(doc: LabDoc, keep: set[str]) -> None:
    """Hosts and routers pinned to a lab host of their own: it exists and takes labs (or the lab
    already runs a part there: a running part stays where it is, as running labs do)."""
    hosts = {h.name: h for h in LabHost.objects.all()}
    for name, node in doc.nodes.items():
        if node.placement is not None and (pin := node.placement.labhost) not in keep:
            _check_pin(hosts.get(pin), pin, f"nodes.{name}.placement.labhost")


def settle(lab: Lab, labhost: str, spec: dict, fresh: bool) -> dict:
    """Put the locked `lab` on `labhost` (with a new tag if it moves, unless it was never
    deployed); returns the spec made for there. Open sockets of the lab are told to join again."""
    if labhost != lab.labhost and not fresh:
        retag(lab)
    lab.labhost = labhost
    lab.save(update_fields=["tag", "labhost", "updated"])
    return {**spec, "lab": lab.tag, "labhost": labhost}


def retag(lab: Lab) -> None:
    """A new ownership tag for `lab` (saved by the caller): whatever carries the old one is
    an orphan. Once committed, the lab's open sockets are told to join again."""
    old_tag, lab.tag = lab.tag, new_lab_tag()
    transaction.on_commit(lambda: _tell_moved(old_tag))


def _tell_moved(old_tag: str) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    try:
        async_to_sync(get_channel_layer().group_send)(group_name(old_tag), {"type": "lab.moved"})
    except Exception as exc:  # sockets then show the lab's old state until they reconnect
        log.warning("could not tell lab %s's sockets it moved: %s", old_tag, exc)


def waiting():
    """The deploys waiting for room, oldest first."""
    return Operation.objects.filter(
        labhost=UNPLACED, kind=Operation.Kind.DEPLOY, status=Operation.Status.QUEUED
    ).order_by("id")


def someone_waits() -> bool:
    return waiting().exists()


def waiting_reason(ahead: int) -> str:
    return f"waiting for room on a lab host ({f'{ahead} ahead' if ahead else 'next'})"


def tell_places() -> None:
    """Each waiting lab's status says its place in line, live on its sockets when it changes."""
    for ahead, op in enumerate(waiting().select_related("lab")):
        if op.lab.status_reason != (reason := waiting_reason(ahead)):
            _set_status(op.lab, LabStatus.DEPLOYING, reason)
