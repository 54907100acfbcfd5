from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from addin.models import AddinToken


@admin.register(AddinToken)
class AddinTokenAdmin(admin.ModelAdmin):
    """Super admins see every add-in token and can revoke (delete) one; the secret
    itself is never stored, so none can be added or read here."""

    list_display = ["name", "user", "prefix", "created_at", "last_used_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__username", "user__email", "prefix"]
    readonly_fields = ["user", "name", "prefix", "created_at", "last_used_at"]
    exclude = ["key_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
