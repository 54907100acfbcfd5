"""The board's websocket: forwards a pipeline's record moves to the reps viewing it."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from crm.events import board_group

# Not signed in: closed before it is accepted (an application close code).
UNAUTHENTICATED = 4401


class BoardConsumer(AsyncJsonWebsocketConsumer):
    group = ""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        # Every signed-in user reads every record (crm.selectors.record_writable_by).
        self.group = board_group(int(self.scope["url_route"]["kwargs"]["pipeline_id"]))
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def record_moved(self, event: dict[str, Any]) -> None:
        """`event["payload"]`: crm.events.record_moved_payload, sent as it is."""
        await self.send_json(event["payload"])
