"""WebSocket routes of the whole project: the labs app's and the classroom's."""

from labs.classroom.routing import websocket_urlpatterns as classroom
from labs.routing import websocket_urlpatterns as labs

websocket_urlpatterns = labs + classroom
