from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from tracking.models import TrackedEmail, TrackedLink, TrackingEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Tracking rows are written by the API and the ingestor only."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class TrackedLinkInline(admin.TabularInline):
    model = TrackedLink
    fields = ["position", "url", "is_trap"]
    readonly_fields = ["position", "url", "is_trap"]
    extra = 0
    can_delete = False


@admin.register(TrackedEmail)
class TrackedEmailAdmin(ReadOnlyAdmin):
    list_display = [
        "subject",
        "sender",
        "tracked",
        "is_anonymous",
        "sent_at",
        "created_at",
    ]
    list_filter = ["tracked", "track_clicks", "is_anonymous"]
    search_fields = ["subject", "from_address"]
    list_select_related = ["sender"]
    inlines = [TrackedLinkInline]


@admin.register(TrackingEvent)
class TrackingEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "verdict",
        "reason",
        "email",
        "ip",
        "inferred",
    ]
    list_filter = ["kind", "verdict", "inferred"]
    search_fields = ["ip", "user_agent", "email__subject"]
    list_select_related = ["email"]
    raw_id_fields = ["email", "link", "contact"]
