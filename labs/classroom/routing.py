"""WebSocket routes of the classroom: the teacher's course page, each person's inbox, and a
watched console."""

from django.urls import path

from .consumers import ConsoleWatchConsumer, CourseConsumer, InboxConsumer

websocket_urlpatterns = [
    path("ws/courses/<int:course_id>/", CourseConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/attempts/<int:attempt_id>/nodes/<str:node>/watch/", ConsoleWatchConsumer.as_asgi()),
]
