"""WebSocket routes of the labs app."""

websocket_urlpatterns: list = []
