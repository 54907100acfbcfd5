from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from activity.inbound import inbound_process
from activity.models import Attachment, InboundEmail, LoggedEmail, LogRegistration


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    """The review list (L2, L9): rejected and failed messages, with their reasons."""

    list_display = [
        "id",
        "received_at",
        "route",
        "status",
        "reason",
        "from_address",
        "subject",
        "size",
    ]
    list_filter = ["status", "route", "reason"]
    search_fields = ["from_address", "subject", "message_id", "envelope_from"]
    readonly_fields = [
        field.name for field in InboundEmail._meta.fields if field.name != "id"
    ]
    actions = ["reprocess"]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description="Re-process the selected messages")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEmail]) -> None:
        outcomes: dict[str, int] = {}
        for pk in queryset.values_list("pk", flat=True):
            inbound = inbound_process(inbound_id=pk, force=True)
            if inbound is not None:
                outcomes[inbound.status] = outcomes.get(inbound.status, 0) + 1
        summary = ", ".join(
            f"{count} {status}" for status, count in sorted(outcomes.items())
        )
        self.message_user(
            request, f"Re-processed: {summary or 'nothing'}.", messages.INFO
        )


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    fields = ["filename", "content_type", "size", "is_inline"]
    readonly_fields = ["filename", "content_type", "size", "is_inline"]


@admin.register(LoggedEmail)
class LoggedEmailAdmin(admin.ModelAdmin):
    list_display = ["id", "sent_at", "sender", "from_address", "subject", "deleted_at"]
    list_filter = ["is_pinned", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["subject", "from_address", "message_id"]
    raw_id_fields = [
        "sender",
        "thread",
        "deleted_by",
        "contacts",
        "companies",
        "deals",
        "tickets",
    ]
    inlines = [AttachmentInline]


@admin.register(LogRegistration)
class LogRegistrationAdmin(admin.ModelAdmin):
    list_display = ["id", "user", "from_address", "subject", "created_at"]
    raw_id_fields = ["user"]
