"""A teacher's messages to a course: stored, sent at once to every page each member has open
(dashboard, lab pages, any other page), and kept unread until each member marks them read."""

from __future__ import annotations

import contextlib

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from .grading import course_group
from .models import CourseMessage, Membership

HISTORY = 20  # messages shown again, per person


def inbox_group(user_id: int) -> str:
    """Every page a signed-in person has open listens here."""
    return f"inbox.{user_id}"


def as_dict(message: CourseMessage) -> dict:
    return {
        "type": "message", "id": message.id, "course": message.course_id, "course_name": message.course.name,
        "from": message.sender.username, "message": message.text, "sent": message.sent.isoformat(),
    }  # fmt: skip


def send(course, sender, text: str) -> CourseMessage:
    """Store a teacher's message and tell every member but its sender, once it is stored."""
    message = CourseMessage.objects.create(course=course, sender=sender, text=text)
    payload = as_dict(message)
    members = list(course.members.exclude(user=sender).values_list("user_id", flat=True))
    sends = [(course_group(course.id), {"type": "course.broadcast", "payload": payload})]  # the dashboards
    sends += [(inbox_group(user_id), {"type": "inbox.message", "payload": payload}) for user_id in members]

    def tell() -> None:
        layer = get_channel_layer()
        for group, event in sends:
            with contextlib.suppress(Exception):  # no channel layer: they read it on their next page
                async_to_sync(layer.group_send)(group, event)

    transaction.on_commit(tell)
    return message


def inbox(user) -> dict:
    """The messages of `user`'s courses from others: the unread ones, and the last few."""
    reads = dict(Membership.objects.filter(user=user).values_list("course_id", "read_until"))
    recent = (
        CourseMessage.objects.filter(course_id__in=reads)
        .exclude(sender=user)
        .select_related("course", "sender")
    )[:HISTORY]
    messages = [{**as_dict(m), "unread": m.id > reads[m.course_id]} for m in recent]
    return {"unread": sum(m["unread"] for m in messages), "messages": messages}


def mark_read(user) -> None:
    """Every message of `user`'s courses up to now is read."""
    newest = CourseMessage.objects.filter(course=OuterRef("course")).order_by("-id").values("id")[:1]
    Membership.objects.filter(user=user).update(read_until=Coalesce(Subquery(newest), F("read_until")))
