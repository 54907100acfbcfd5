"""The Django admin for settings: "Email log & track" as one page, and the rest as lists."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.views.decorators.http import require_POST

from config.api import Conflict, DomainError
from settings_admin.models import (
    AccountSettings,
    BlockedNetwork,
    NeverLogEntry,
    NeverLogScope,
    SendingIdentity,
    UserSettings,
)
from settings_admin.selectors import account_settings_get
from settings_admin.services import (
    account_bcc_regenerate,
    account_settings_update,
    normalise_never_log_pattern,
    sending_identity_check,
)


@admin.register(AccountSettings)
class AccountSettingsAdmin(admin.ModelAdmin):
    """The account's one row (S1 to S9): every staff member may read it, super admins change it."""

    change_form_template = "admin/settings_admin/accountsettings/change_form.html"
    readonly_fields = ["bcc_address_display", "never_log_display", "blocked_display"]
    fieldsets = [
        (
            "S1 · Default log setting",
            {"fields": ["apply_log_for_all", "log_all_by_default"]},
        ),
        (
            "S2 · Default association",
            {
                "fields": [
                    "apply_association_for_all",
                    "associate_contacts",
                    "associate_companies",
                    "associate_deals",
                    "associate_tickets",
                ]
            },
        ),
        ("S3 · Tracking", {"fields": ["allow_tracking"]}),
        (
            "S4 · Default track setting",
            {
                "fields": ["apply_track_for_all", "track_all_by_default"],
                "description": "Only available while tracking is allowed (S3).",
            },
        ),
        ("S5 · Data privacy", {"fields": ["privacy_enabled"]}),
        ("S6 · Never-log list", {"fields": ["never_log_display"]}),
        ("S7 · BCC address", {"fields": ["bcc_prefix", "bcc_address_display"]}),
        ("S8 · Networks that never notify", {"fields": ["blocked_display"]}),
        (
            "S9 · Attachments",
            {"fields": ["log_attachments", "max_attachment_bytes", "max_body_bytes"]},
        ),
    ]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # A singleton: the row exists once, created on first read.

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        row = account_settings_get()
        return redirect("admin:settings_admin_accountsettings_change", row.pk)

    def get_urls(self) -> list[URLPattern]:
        regenerate = self.admin_site.admin_view(require_POST(self.regenerate_bcc_view))
        return [
            path(
                "regenerate-bcc/",
                regenerate,
                name="settings_admin_accountsettings_regenerate_bcc",
            ),
            *super().get_urls(),
        ]

    def regenerate_bcc_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not self.has_change_permission(request):
            raise PermissionDenied
        account = account_bcc_regenerate()
        self.message_user(
            request,
            f"New BCC address: {account.bcc_address}. The old one no longer logs email.",
            messages.SUCCESS,
        )
        return redirect("admin:settings_admin_accountsettings_change", account.pk)

    def save_model(
        self, request: HttpRequest, obj: AccountSettings, form: Any, change: bool
    ) -> None:
        # The same service the API uses; the form has already validated S4-needs-S3.
        account_settings_update(
            data={name: form.cleaned_data[name] for name in form.changed_data}
        )
        obj.refresh_from_db()

    @admin.display(description="BCC address")
    def bcc_address_display(self, obj: AccountSettings) -> str:
        return obj.bcc_address

    @admin.display(description="Account never-log list")
    def never_log_display(self, obj: AccountSettings) -> str:
        patterns = NeverLogEntry.objects.filter(scope=NeverLogScope.ACCOUNT)
        link = reverse("admin:settings_admin_neverlogentry_changelist")
        return format_html(
            "{}<p><a href='{}?scope__exact=account'>Edit the never-log list</a></p>",
            _as_list(patterns.values_list("pattern", flat=True), empty="Empty."),
            link,
        )

    @admin.display(description="IP addresses and ranges")
    def blocked_display(self, obj: AccountSettings) -> str:
        link = reverse("admin:settings_admin_blockednetwork_changelist")
        return format_html(
            "{}<p><a href='{}'>Edit the networks</a></p>",
            _as_list(
                BlockedNetwork.objects.values_list("cidr", flat=True), empty="None."
            ),
            link,
        )


def _as_list(items: Any, *, empty: str) -> str:
    values = list(items)
    if not values:
        return format_html("<p>{}</p>", empty)
    return format_html(
        "<ul>{}</ul>",
        format_html_join("", "<li><code>{}</code></li>", ((v,) for v in values)),
    )


@admin.register(UserSettings)
class UserSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "seat",
        "log_by_default",
        "track_by_default",
        "create_contacts",
        "desktop_notifications",
        "updated_at",
    ]
    list_select_related = ["user"]
    search_fields = [
        "user__username",
        "user__email",
        "user__first_name",
        "user__last_name",
    ]
    list_filter = ["seat", "log_by_default", "track_by_default", "create_contacts"]
    autocomplete_fields = ["user"]


class NeverLogEntryForm(forms.ModelForm):
    class Meta:
        model = NeverLogEntry
        fields = ["scope", "user", "pattern"]

    def clean_pattern(self) -> str:
        try:
            return normalise_never_log_pattern(self.cleaned_data["pattern"])
        except DomainError as exc:
            raise ValidationError(
                "Use name@domain.com or *@domain.com.", code=exc.code
            ) from exc


@admin.register(NeverLogEntry)
class NeverLogEntryAdmin(admin.ModelAdmin):
    form = NeverLogEntryForm
    list_display = ["pattern", "scope", "user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["pattern", "user__username", "user__email"]
    list_filter = ["scope"]
    autocomplete_fields = ["user"]


class SendingIdentityForm(forms.ModelForm):
    class Meta:
        model = SendingIdentity
        fields = ["user", "email", "kind"]

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        user, email = cleaned.get("user"), cleaned.get("email")
        if user is not None and email:
            try:
                sending_identity_check(user=user, email=email)
            except Conflict as exc:
                reasons = {
                    "identity_exists": "This is the user's own login email already.",
                    "identity_taken": "This is another user's login email (U2).",
                }
                self.add_error("email", ValidationError(reasons[exc.code], exc.code))
        return cleaned


@admin.register(SendingIdentity)
class SendingIdentityAdmin(admin.ModelAdmin):
    form = SendingIdentityForm
    list_display = ["email", "user", "kind", "created_at"]
    list_select_related = ["user"]
    search_fields = ["email", "user__username", "user__email"]
    list_filter = ["kind"]
    autocomplete_fields = ["user"]


@admin.register(BlockedNetwork)
class BlockedNetworkAdmin(admin.ModelAdmin):
    list_display = ["cidr", "note"]
    search_fields = ["cidr", "note"]


class UserSettingsInline(admin.StackedInline):
    model = UserSettings
    can_delete = False
    verbose_name = "Beacon settings (seat)"
    verbose_name_plural = "Beacon settings (seat)"
    fields = [
        "seat",
        "log_by_default",
        "track_by_default",
        "create_contacts",
        "desktop_notifications",
    ]


class BeaconUserAdmin(UserAdmin):
    inlines = [UserSettingsInline]
    list_display = ["username", "email", "first_name", "last_name", "is_staff", "seat"]
    list_filter = ["is_staff", "is_superuser", "is_active", "beacon_settings__seat"]
    list_select_related = ["beacon_settings"]

    @admin.display(description="Seat", ordering="beacon_settings__seat")
    def seat(self, obj: User) -> str:
        own = getattr(obj, "beacon_settings", None)
        return own.get_seat_display() if own is not None else "—"


admin.site.unregister(User)
admin.site.register(User, BeaconUserAdmin)
