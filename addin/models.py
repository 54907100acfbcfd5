from __future__ import annotations

from django.conf import settings
from django.db import models


class AddinToken(models.Model):
    """A named, revocable credential the Outlook add-in sends as `Authorization: Token …`.

    Only a SHA-256 of the token is stored: the token itself is shown once, to the dialog
    that asked for it. Revoking deletes the row, so the token stops working at once.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addin_tokens"
    )
    name = models.CharField(max_length=100)
    # The token's first characters, shown so a rep can tell their tokens apart.
    prefix = models.CharField(max_length=12)
    # Unique: the authentication looks a token up by its hash alone.
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        # The settings page lists a user's tokens, newest first.
        indexes = [models.Index(fields=["user", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"
