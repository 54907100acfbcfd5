from __future__ import annotations

from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """Tracked emails: tokens, HTML rewriting, the pixel/click fast path, hits and verdicts."""

    name = "tracking"
