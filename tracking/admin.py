from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path

from tracking.models import TrackedEmail, TrackedLink, TrackingEvent
from tracking.selectors import pipeline_status


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

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "pipeline-status/",
                self.admin_site.admin_view(self.pipeline_status_view),
                name="tracking_pipeline_status",
            ),
            *super().get_urls(),
        ]

    def pipeline_status_view(self, request: HttpRequest) -> HttpResponse:
        """What `manage.py tracking_status` prints, for whoever may see the events."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Tracking pipeline status",
            "opts": self.model._meta,
            "status": pipeline_status(),
        }
        return TemplateResponse(request, "admin/tracking/pipeline_status.html", context)
