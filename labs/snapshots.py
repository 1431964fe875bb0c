"""The full snapshot of a lab for REST and WebSocket clients: live state from the lab
host's monitor, plus what the last deploy published and the lab's status."""

from __future__ import annotations

from labs.models import Lab

from .live import state as live
from .models import Operation


def published_ports(lab: Lab) -> list[dict]:
    last = lab.operations.filter(kind=Operation.Kind.DEPLOY, status=Operation.Status.SUCCEEDED).first()
    if last is None or lab.status in ("stopped", "draft"):
        return []
    return [{"host": s["name"], **p} for s in last.spec.get("sandboxes", []) for p in s.get("publish", [])]


def full_snapshot(lab: Lab) -> dict:
    lab.refresh_from_db(fields=["status", "status_reason"])  # a socket holds its lab for hours
    data = live.snapshot(lab.tag)
    data["status"] = {"status": lab.status, "reason": lab.status_reason}
    data["published"] = published_ports(lab)
    return data
