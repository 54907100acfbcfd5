from __future__ import annotations

from django.apps import AppConfig


class SettingsAdminConfig(AppConfig):
    """Account defaults, user settings, never-log lists, seats and sending identities."""

    name = "settings_admin"
    verbose_name = "Settings"
