"""What admins do with a lab host (`labs.admin`, `manage.py labhost`): cordon it, drain it (its
labs move elsewhere), evacuate a lost one, and ask one to collect what belongs to no lab."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from . import queues
from .fleet import AT_REST, UNPLACED, on_labhost
from .lifecycle import OperationRefused, request_deploy
from .models import Lab, LabHost, LabStatus


def set_state(host: LabHost, state: str) -> None:
    LabHost.objects.filter(id=host.id).update(state=state)


def drain(host: LabHost) -> list[str]:
    """Take no new labs and move the running ones elsewhere; what it held for them is then
    collected there at once."""
    set_state(host, LabHost.State.DRAINING)
    said = _move_labs(host, Lab.objects.filter(labhost=host.name).exclude(status__in=AT_REST))
    transaction.on_commit(lambda: _send_collect(host.name))
    return said


def evacuate(host: LabHost) -> list[str]:
    """Redeploy elsewhere, from their documents, the labs a lost lab host held."""
    return _move_labs(host, on_labhost(host.name).filter(status=LabStatus.LOST))


def _move_labs(host: LabHost, labs) -> list[str]:
    said = []
    for lab in labs:
        try:
            op = request_deploy(lab, None, placing="move")
        except OperationRefused as exc:
            said.append(f"{lab.slug}: not moved: {exc}")
            continue
        where = "waits for room" if op.labhost == UNPLACED else f"goes to {op.labhost}"
        said.append(f"{lab.slug} {where}")
    return said or [f"lab host {host.name} holds no lab to move"]


def collect_on(host: LabHost, dry_run: bool) -> None:
    """Ask the lab host to collect what belongs to no lab (or, dry, only to say what); its
    report lands in `gc_report`."""
    LabHost.objects.filter(id=host.id).update(gc_report="asked at " + f"{timezone.localtime():%H:%M:%S}")
    _send_collect(host.name, dry_run)


def _send_collect(name: str, dry_run: bool = False) -> None:
    try:
        queues.send(queues.COLLECT, name, dry_run=dry_run)
    except Exception as exc:  # the broker away: said where the admin looks
        LabHost.objects.filter(name=name).update(gc_report=f"could not be asked: {exc}"[:2000])
