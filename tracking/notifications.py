"""The one place tracking notifications are shaped and sent (T9).

Each counted event becomes a plain JSON payload (`tracking_event_payload`, type
"tracking.event"), unless the sender muted its contact or its email (V3): such events
are stored and counted but never sent, live or on catch-up (`notifiable`). Self opens
and blocked networks (S8) never get here: their verdicts are not counted. After commit,
a batch's payloads go to each sender's channel-layer group as ONE group message per
sender:

    {"type": "tracking.events", "events": [payload, ...]}

so a websocket consumer's `tracking_events` handler forwards each payload as it is. One
message per sender and batch rather than per event, and a batch's (or round's) messages
go in one pipelined round trip when the layer offers `group_send_many`
(config.channel_layer; docs/decisions/pubsub-channel-layer.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from settings_admin.selectors import NotificationPreferences, notification_preferences

logger = logging.getLogger(__name__)
EVENT_TYPE = "tracking.event"
GROUP_MESSAGE_TYPE = "tracking.events"


def user_group_name(user_id: int) -> str:
    """The channel-layer group of one user's browsers."""
    return f"user-{user_id}"


def tracking_event_payload(
    *,
    event_id: int,
    email_id: int,
    subject: str,
    kind: str,
    verdict: str,
    contact_name: str,
    link_url: str | None,
    occurred_at: str,
    inferred: bool,
    desktop: bool = True,
) -> dict[str, Any]:
    """A plain JSON dict; `contact` is "Someone" for anonymous emails (T2).

    `occurred_at`: ISO 8601 (tracking.event_store.iso_time), formatted once per event
    for both the database and this payload. `desktop`: whether the sender wants desktop
    pop-ups (V3); the page shows its in-page notice either way.
    """
    return {
        "type": EVENT_TYPE,
        "event_id": event_id,
        "email_id": email_id,
        "subject": subject,
        "kind": kind,
        "verdict": verdict,
        "contact": contact_name or "Someone",
        "link_url": link_url,
        "occurred_at": occurred_at,
        "inferred": inferred,
        "desktop": desktop,
    }


def notifiable(
    events: list[tuple[int, int, int | None]],
) -> tuple[list[int], dict[int, NotificationPreferences]]:
    """Of (sender id, email id, email's contact id or None) triples, the positions of
    those their sender has not muted (V3), and each sender's preferences."""
    preferences = notification_preferences({sender for sender, _, _ in events})
    kept = [
        position
        for position, (sender, email_id, contact_id) in enumerate(events)
        if not preferences[sender].mutes(email_id=email_id, contact_id=contact_id)
    ]
    return kept, preferences


# Sends in flight at once: enough to overlap round trips, well within the layer's
# connection pool (redis-py's default of 100 per pool).
SEND_CONCURRENCY = 48


def group_messages(
    messages: list[tuple[int, dict[str, Any]]],
) -> list[tuple[int, dict[str, Any]]]:
    """(sender id, payload) pairs as one group message per sender, in event order."""
    by_user: dict[int, list[dict[str, Any]]] = {}
    for user_id, payload in messages:
        by_user.setdefault(user_id, []).append(payload)
    return [
        (user_id, {"type": GROUP_MESSAGE_TYPE, "events": events})
        for user_id, events in by_user.items()
    ]


async def _send_all(
    messages: list[tuple[int, dict[str, Any]]], gate: asyncio.Semaphore | None = None
) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    grouped = group_messages(messages)
    send_many = getattr(layer, "group_send_many", None)
    if send_many is not None:  # config.channel_layer: one round trip for them all
        try:
            await send_many(
                [(user_group_name(user_id), message) for user_id, message in grouped]
            )
        except Exception as error:
            logger.error("tracking notifications failed: %r", error)
        return
    gate = gate or asyncio.Semaphore(SEND_CONCURRENCY)

    async def send(user_id: int, message: dict[str, Any]) -> None:
        async with gate:
            await layer.group_send(user_group_name(user_id), message)

    results = await asyncio.gather(
        *(send(user_id, message) for user_id, message in grouped),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            logger.error("tracking notification failed: %r", result)


def notify_tracking_events(messages: list[tuple[int, dict[str, Any]]]) -> None:
    """Send (sender id, payload) pairs; called from transaction.on_commit."""
    if messages:
        async_to_sync(_send_all)(messages)


class BackgroundNotifier:
    """Sends notifications from a thread of its own, so ingestion never waits on them.

    Used by the stream ingestor: a batch's messages are queued after its commit and the
    next batch is read at once. One round of sends at a time: messages queued while a
    round is out go together in the next one, one group message per sender. So the
    number of group messages follows the senders, not the batches: when batches come
    faster than the layer can send, later rounds grow instead of a queue of rounds,
    which made latency climb at ~1,000 hits/s. A round is one pipelined write with
    config.channel_layer (its sends one by one, each a round trip that had to win the
    GIL back from the ingesting thread, let rounds grow to 10 s with 10,000 users).
    `close()` sends what is queued before returning.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.queued: list[tuple[int, dict[str, Any]]] = []  # touched in the loop only
        self.sender: asyncio.Task[None] | None = None

    def __call__(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        self.loop.call_soon_threadsafe(self._queue, messages)

    def _queue(self, messages: list[tuple[int, dict[str, Any]]]) -> None:
        self.queued.extend(messages)
        if self.sender is None or self.sender.done():
            self.sender = self.loop.create_task(self._send_rounds())

    async def _send_rounds(self) -> None:
        gate = asyncio.Semaphore(SEND_CONCURRENCY)
        while self.queued:
            messages, self.queued = self.queued, []
            await _send_all(messages, gate)

    async def _drain(self) -> None:
        # Runs after every _queue already asked for (the loop's callbacks are FIFO).
        while self.sender is not None and not self.sender.done():
            try:
                await self.sender
            except Exception:
                logger.exception("tracking notifications failed")

    def close(self, timeout: float = 10) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self._drain(), self.loop).result(timeout)
        except TimeoutError:
            logger.error("tracking notifications still queued at exit")
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout)
