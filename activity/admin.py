from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from activity.inbound import inbound_process
from activity.models import Attachment, InboundEmail, LoggedEmail, LogRegistration

# Each review reason in words, and what a super admin can do about it.
REVIEW_REASONS: dict[str, tuple[str, str]] = {
    "sender_not_identity": (
        "The sender is not one of your users' addresses, so nobody may log it.",
        "If a user sends from this address, add it to their sending addresses "
        "(Sending identities) and have them open the confirmation link mailed to it; "
        "an address still unconfirmed counts as nobody's. Then re-process the message.",
    ),
    "sender_not_owner": (
        "It came in on one user's personal BCC address but was sent from another "
        "user's address, so it is not logged as either.",
        "Ask the sender to BCC their own address (shown on their settings page). "
        "Re-processing will not change the outcome.",
    ),
    "dmarc_fail": (
        "The sender's domain publishes DMARC and this message fails it: it may be "
        "forged, so it is never logged.",
        "If the mail is genuine, the domain's SPF or DKIM setup needs fixing; ask the "
        "sender to use their personal BCC address once it passes.",
    ),
    "dmarc_unverified": (
        "It came to the account-wide BCC address, which logs only mail whose sender's "
        "domain passes DMARC, and this one could not be verified.",
        "Ask the sender to BCC their personal address (on their settings page) "
        "instead, then resend; re-processing will not change the outcome.",
    ),
    "sender_mismatch": (
        "It was posted by a user for mail sent from someone else's address.",
        "Check who sent it. If the poster should log for everyone, give them the "
        "permission; otherwise leave it.",
    ),
    "no_records": (
        "Every recipient is on a never-log list, lacks a legal basis while data "
        "privacy is on, or is not a contact.",
        "Nothing to do if that is intended; otherwise change the never-log list or "
        "the contacts' legal basis and re-process.",
    ),
    "body_too_large": (
        "The email's body is over the body size limit; the sender was told.",
        "Raise the body limit in Email log & track if such emails must be logged, "
        "then re-process.",
    ),
    "parse_error": (
        "The message could not be read as an email.",
        "Open it to see the error; a re-process will not help unless Beacon was "
        "upgraded to read it.",
    ),
    "raw_unreadable": (
        "The stored copy of the message could not be read from storage.",
        "Check the media storage (disk or bucket), then re-process.",
    ),
    "processing_error": (
        "Beacon failed while logging it (an internal error, in the server logs).",
        "Re-process it; if it fails again, report it with the message id.",
    ),
}


@admin.register(InboundEmail)
class InboundEmailAdmin(admin.ModelAdmin):
    """The review list (L2, L9): rejected and failed messages, with their reasons."""

    list_display = [
        "id",
        "received_at",
        "route",
        "status",
        "reason_explained",
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

    def get_readonly_fields(
        self, request: HttpRequest, obj: InboundEmail | None = None
    ) -> list[str]:
        return ["reason_explained", *self.readonly_fields]

    @admin.display(description="Why it waits here, and what to do", ordering="reason")
    def reason_explained(self, obj: InboundEmail) -> str:
        if not obj.reason:
            return "—"
        what, action = REVIEW_REASONS.get(
            obj.reason, (obj.detail or obj.reason, "Open it for the details.")
        )
        return format_html(
            "<strong>{}</strong><br>{}<br><em>What to do:</em> {}",
            obj.reason.replace("_", " ").capitalize().replace("Dmarc", "DMARC"),
            what,
            action,
        )

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
