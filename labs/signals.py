"""Signals: a lab's live sockets re-check access when the lab is deleted or changes hands, and
hear when its document changed (from another page, the API, or a docker command in the lab)."""

import contextlib
import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from labs.models import Lab

from .live.state import group_name, publish_now
from .store.documents import document_saved

log = logging.getLogger(__name__)


def _recheck(lab: Lab) -> None:
    with contextlib.suppress(Exception):  # no channel layer: no sockets to close
        async_to_sync(get_channel_layer().group_send)(group_name(lab.tag), {"type": "lab.access"})


@receiver(post_delete, sender=Lab)
def lab_deleted(sender, instance: Lab, **kwargs) -> None:
    transaction.on_commit(lambda: _recheck(instance))


@receiver(post_save, sender=Lab)
def lab_saved(sender, instance: Lab, created: bool, update_fields=None, **kwargs) -> None:
    if not created and (update_fields is None or "owner" in update_fields):
        transaction.on_commit(lambda: _recheck(instance))


@receiver(document_saved)
def document_changed(sender, lab_tag: str, version: str, **kwargs) -> None:
    """Every open view of the lab hears the stored document's version (live state is a courtesy:
    Redis away, this is logged and nothing more)."""
    try:
        publish_now(lab_tag, [{"type": "lab.document", "version": version}])
    except Exception as exc:
        log.warning("could not tell lab %s's views that its document changed: %s", lab_tag, exc)
