from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import pre_delete


def _lock_event_parents(sender: Any, using: str, **kwargs: Any) -> None:
    from tracking.event_store import lock_event_parents

    lock_event_parents(using)


class TrackingConfig(AppConfig):
    """Tracked emails: tokens, HTML rewriting, the pixel/click fast path, hits and verdicts."""

    name = "tracking"

    def ready(self) -> None:
        # Events have no database foreign keys (tracking.models.TrackingEvent): every
        # deletion of a parent waits for the batches being stored, so its cascade
        # sees all of their events (tracking.event_store._with_parents checks the rest).
        for model in ("tracking.TrackedEmail", "tracking.TrackedLink", "crm.Contact"):
            pre_delete.connect(
                _lock_event_parents, sender=model, dispatch_uid=f"event-parents-{model}"
            )
