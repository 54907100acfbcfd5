from __future__ import annotations

from django.urls import path

from crm.consumers import BoardConsumer

websocket_urlpatterns = [
    path("ws/boards/<int:pipeline_id>/", BoardConsumer.as_asgi()),
]
