"""The notification socket (T9): a signed-in user's browsers hear their own events.

The consumer only moves messages: it refuses anonymous sockets, joins the user's group
(tracking.notifications.user_group_name) and forwards each payload as one JSON text
frame. What a payload holds, and whether an event notifies at all (self opens, blocked
networks, mutes), is decided where the notifications are made: tracking.ingest and
tracking.notifications.
"""

from __future__ import annotations

from typing import Any

import orjson
from channels.generic.websocket import AsyncWebsocketConsumer

from tracking.notifications import user_group_name

# Closed before accepting: the browser sees the handshake refused (HTTP 403).
UNAUTHENTICATED = 4401


class NotificationConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.group = user_group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None
    ) -> None:
        """The socket only speaks to the browser; what the browser says is ignored."""

    async def tracking_events(self, message: dict[str, Any]) -> None:
        """A batch's events of this user: `{"type": "tracking.events", "events": [...]}`,
        each a `tracking_event_payload` dict, sent as one text frame per event."""
        for payload in message["events"]:
            await self.send(text_data=orjson.dumps(payload).decode())
