"""The teachers' sockets: `/ws/courses/<id>/`, the dashboard, told of every student's attempt
as it changes (lab status, checks under way, results) and of the teachers' messages;
`/ws/inbox/`, every page of a signed-in person, told of their courses' messages; and
`/ws/attempts/<id>/nodes/<node>/watch/`, a student's consoles on a node, read-only."""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer, AsyncWebsocketConsumer

from ..consumers import FORBIDDEN
from ..live.state import console_watch_group
from .grading import course_group
from .messages import inbox_group
from .models import Attempt, Course
from .roles import teaches


@database_sync_to_async
def _taught(user, course_id: int) -> bool:
    course = Course.objects.filter(id=course_id).first()
    return course is not None and teaches(course, user)


class CourseConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        self.course_id = self.scope["url_route"]["kwargs"]["course_id"]
        if not await _taught(self.scope.get("user"), self.course_id):
            await self.close(code=FORBIDDEN)
            return
        self.group = course_group(self.course_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "hello"})

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Read-only: nothing a client sends changes anything."""

    async def course_attempt(self, message):
        await self.send_json({"type": "attempt", "attempt": message["attempt"]})

    async def course_member(self, message):
        await self.send_json({"type": "joined", "student": message["student"]})

    async def course_broadcast(self, message):
        await self.send_json(message["payload"])


class InboxConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/inbox/`: a signed-in person's pages hear their courses' messages as they are sent."""

    async def connect(self):
        user = self.scope.get("user")
        if not user or not user.is_authenticated:
            await self.close(code=FORBIDDEN)
            return
        self.group = inbox_group(user.id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        """Read-only: messages are marked read over REST."""

    async def inbox_message(self, message):
        await self.send_json(message["payload"])


@database_sync_to_async
def _watched_lab(user, attempt_id: int) -> str | None:
    """The lab tag of an attempt that `user` teaches, else None."""
    attempt = Attempt.objects.filter(id=attempt_id).select_related("exercise__course", "lab").first()
    return attempt.lab.tag if attempt and teaches(attempt.exercise.course, user) else None


class ConsoleWatchConsumer(AsyncWebsocketConsumer):
    """What a student's consoles on one node print, from now on; whatever is sent is ignored."""

    async def connect(self):
        kwargs = self.scope["url_route"]["kwargs"]
        lab_tag = await _watched_lab(self.scope.get("user"), kwargs["attempt_id"])
        if lab_tag is None:
            await self.close(code=FORBIDDEN)
            return
        self.group = console_watch_group(lab_tag, kwargs["node"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        """Read-only: keystrokes never reach the student's shell from here."""

    async def console_output(self, message):
        await self.send(bytes_data=message["data"])

    async def console_note(self, message):
        await self.send(text_data=json.dumps({"type": "note", "message": message["message"]}))
