from __future__ import annotations

from django.apps import AppConfig


class AddinConfig(AppConfig):
    """The Office add-in: manifest, task pane page and the compose-context API."""

    name = "addin"
    verbose_name = "Office add-in"
