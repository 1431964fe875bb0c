"""WebSocket routes of the labs app."""

from django.urls import path

from . import consumers, viewers
from .classroom.consumers import ConsoleWatchConsumer, CourseConsumer, InboxConsumer

websocket_urlpatterns = [
    path("ws/labs/<int:lab_id>/", consumers.LabConsumer.as_asgi()),
    path("ws/labs/<int:lab_id>/nodes/<str:node>/console/", consumers.ConsoleConsumer.as_asgi()),
    path("ws/shared/", viewers.ViewerConsumer.as_asgi()),
    path("ws/courses/<int:course_id>/", CourseConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
    path("ws/attempts/<int:attempt_id>/nodes/<str:node>/watch/", ConsoleWatchConsumer.as_asgi()),
]
