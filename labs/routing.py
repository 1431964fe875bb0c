"""WebSocket routes of the labs app."""

from django.urls import path

from . import consumers, viewers

websocket_urlpatterns = [
    path("ws/labs/<int:lab_id>/", consumers.LabConsumer.as_asgi()),
    path("ws/labs/<int:lab_id>/nodes/<str:node>/console/", consumers.ConsoleConsumer.as_asgi()),
    path("ws/shared/", viewers.ViewerConsumer.as_asgi()),
]
