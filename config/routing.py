"""Websocket routes: config/asgi.py mounts them behind the origin check and session auth.

A new socket is one more `path(...)` here, beside its consumer's app.
"""

from __future__ import annotations

from django.urls import URLPattern, path

from crm.consumers import BoardConsumer
from tracking.consumers import NotificationConsumer

websocket_urlpatterns: list[URLPattern] = [
    path(
        "ws/notifications/",
        NotificationConsumer.as_asgi(),
        name="ws-notifications",
    ),
    # A deal or ticket pipeline's board: its record moves, live (crm.events).
    path("ws/boards/<int:pipeline_id>/", BoardConsumer.as_asgi(), name="ws-board"),
]
