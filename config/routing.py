"""Websocket routes: config/asgi.py mounts them behind the origin check and session auth.

A new socket is one more route here, or an app's own `websocket_urlpatterns` added to
the list, beside its consumer.
"""

from __future__ import annotations

from typing import Any

from django.urls import path

from crm import routing as crm_routing
from tracking.consumers import NotificationConsumer

websocket_urlpatterns: list[Any] = [
    path(
        "ws/notifications/",
        NotificationConsumer.as_asgi(),
        name="ws-notifications",
    ),
    *crm_routing.websocket_urlpatterns,
]
