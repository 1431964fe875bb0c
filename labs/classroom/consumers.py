"""`/ws/courses/<id>/`: the teacher's dashboard, told of every student's attempt as it changes
(lab status, checks under way, results) and of the teachers' broadcasts."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ..consumers import FORBIDDEN
from .grading import course_group
from .models import Course
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

    async def course_broadcast(self, message):
        await self.send_json(message["payload"])
