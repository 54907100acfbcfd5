from __future__ import annotations

from django.apps import AppConfig


class AddinConfig(AppConfig):
    """The Office add-in: manifest, pane and send handler, sign-in tokens, compose context."""

    name = "addin"
    verbose_name = "Office add-in"

    def ready(self) -> None:
        # Registers the token scheme with drf-spectacular.
        from addin import authentication  # noqa: F401
