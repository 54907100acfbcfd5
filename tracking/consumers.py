"""The notification socket (T9): a signed-in user's browsers hear their own events.

The consumer only moves messages: it refuses anonymous sockets, joins the user's group
(tracking.notifications.user_group_name) and forwards each payload as one JSON text
frame. What a payload holds, and whether an event notifies at all (self opens, blocked
networks, mutes), is decided where the notifications are made: tracking.ingest and
tracking.notifications.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import orjson
from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from tracking.notifications import user_group_name

# Closed before accepting: the browser sees the handshake refused (HTTP 403).
UNAUTHENTICATED = 4401
# Group joins and leaves in flight at once, per process: thousands of pages
# reconnecting after a restart otherwise start them all at once (with channels_redis's
# core layer they exhausted its pool of 100 connections; the pub/sub layer takes them
# in turn on its one connection, and this bounds the waiting tasks).
LAYER_CALLS = 32
_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _gate() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = asyncio.Semaphore(LAYER_CALLS)
    return gate


class NotificationConsumer(AsyncWebsocketConsumer):
    group: str | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        """Channels' own dispatch first closes stale database connections on a worker
        thread (`aclose_old_connections`), for handlers that use the ORM. No handler
        here does (the user comes with the scope), and that thread hop, one per frame
        on one shared thread per process, was most of the web processes' CPU per
        notification and serialised every socket's messages behind it."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.group = user_group_name(user.pk)
        async with _gate():
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            async with _gate():
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
