"""Labs spanning lab hosts, the web side: the underlay a lab is stitched over (the lab hosts'
addresses, a VNI per stitched segment handed out here), and the parts it is cut into.

A lab runs on its lab host (`Lab.labhost`) but for the hosts and routers a `placement` pins to
another, with their containers; the compiler cuts it into a spec per lab host, and `Lab.parts`
keeps, for every other lab host, what it holds there (so controls, captures and consoles go
where the node is, and each part counts against its own lab host's room).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone

from topology.compiler import Underlay
from topology.document import LabDoc
from topology.kinds import get_kind
from topology.spec import LabHostSpec

from .models import Lab, LabHost, Operation, StitchVni

VNI_FIRST, VNI_LAST = 4096, 2**24 - 1
OLD_TAG_GRACE = timedelta(hours=1)  # a moved lab's old VNIs wait this long for its old parts' collection


class NoVniLeft(Exception):
    """Every VNI is taken (sixteen million stitched segments)."""


def may_span(doc: LabDoc) -> bool:
    """Whether any host or router of the document is pinned to a lab host of its own."""
    return any(node.placement is not None for node in doc.nodes.values())


def underlay_for(lab: Lab) -> Underlay:
    """The lab hosts' underlay addresses, and VNIs handed out under the lab's current tag."""
    addresses = {
        name: str(address)
        for name, address in LabHost.objects.exclude(underlay=None).values_list("name", "underlay")
    }
    tag, lab_id = lab.tag, lab.id
    return Underlay(addresses, lambda bridge: vni_for(lab_id, tag, bridge), settings.WIRELAB_UNDERLAY_MTU)


def vni_for(lab_id: int, tag: str, bridge: str) -> int:
    """The VNI of the lab's stitched segment `bridge` under `tag`, handed out on first use."""
    for _ in range(20):  # another lab may take the same number at the same moment: take the next
        held = StitchVni.objects.filter(tag=tag, bridge=bridge).values_list("number", flat=True).first()
        if held is not None:
            return held
        top = StitchVni.objects.aggregate(top=Max("number"))["top"] or VNI_FIRST - 1
        number = top + 1 if top < VNI_LAST else _lowest_free()
        try:
            with transaction.atomic():
                StitchVni.objects.create(number=number, lab_id=lab_id, tag=tag, bridge=bridge)
            return number
        except IntegrityError:
            continue
    raise NoVniLeft("no VNI could be handed out: try again")


def _lowest_free() -> int:
    expected = VNI_FIRST
    for number in StitchVni.objects.order_by("number").values_list("number", flat=True).iterator():
        if number > expected:
            return expected
        expected = number + 1
    if expected > VNI_LAST:
        raise NoVniLeft(f"all {VNI_LAST - VNI_FIRST + 1} VNIs are in use")
    return expected


def release(lab: Lab) -> None:
    """The lab's destroy is done: the VNIs of its current tag are free again."""
    StitchVni.objects.filter(lab_id=lab.id, tag=lab.tag).delete()


def release_old() -> int:
    """VNIs of tags their labs no longer have, past the grace their old parts had to be collected."""
    stale = StitchVni.objects.exclude(tag=F("lab__tag")).filter(created__lt=timezone.now() - OLD_TAG_GRACE)
    return stale.delete()[0]


def parts_of(specs: dict[str, LabHostSpec], labhost: str) -> dict:
    """What every lab host but the lab's own holds of it."""
    return {
        host: {"containers": spec.containers(), "nodes": spec.node_names()}
        for host, spec in specs.items()
        if host != labhost and spec.node_names()
    }


def spanned(parts: dict) -> dict[str, int]:
    """Containers each other lab host holds for the placed labs with parts (`Lab.parts`)."""
    out: dict[str, int] = {}
    for each in parts:
        for host, part in each.items():
            out[host] = out.get(host, 0) + part.get("containers", 0)
    return out


def shown(lab: Lab) -> dict:
    """For people, when the lab spans lab hosts: where each node runs and each stitched segment
    (between which lab hosts, its VNI and MTU), as its last deploy made them; else {}."""
    if not lab.parts:
        return {}
    nodes = (lab.document or {}).get("nodes", {})
    where = {
        name: lab.host_of(name)
        for name, node in nodes.items()
        if (kind := get_kind(node.get("kind", ""))) is not None and kind.has_container
    }
    head = lab.operations.filter(
        kind=Operation.Kind.DEPLOY, labhost=lab.labhost, params__has_key="parts"
    ).first()
    segments: dict[str, dict] = {}
    if head is not None:
        specs = [
            head.spec,
            *Operation.objects.filter(id__in=head.params["parts"]).values_list("spec", flat=True),
        ]
        for spec in specs:
            for stitch in spec.get("stitches", []):
                seen = segments.setdefault(
                    stitch["bridge"],
                    {
                        "segment": stitch.get("segment", ""),
                        "vni": stitch["vni"],
                        "mtu": stitch["mtu"],
                        "labhosts": [],
                    },
                )
                seen["labhosts"] = sorted({*seen["labhosts"], spec["labhost"]})
    return {"labhosts": where, "stitches": sorted(segments.values(), key=lambda s: s["segment"])}
