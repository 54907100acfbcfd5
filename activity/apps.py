from __future__ import annotations

from django.apps import AppConfig


class ActivityConfig(AppConfig):
    """Logged emails, threads, attachments, inbound mail, timelines, feed and notifications."""

    name = "activity"
