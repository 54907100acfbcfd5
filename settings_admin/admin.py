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
    ACCOUNT_FLAGS,
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
    sending_identity_send_confirmation,
)

MB = 1024 * 1024

# Every field of "Email log & track": what it does, what the rep sees, what it overrides.
ACCOUNT_HELP: dict[str, str] = {
    "apply_log_for_all": (
        "On: every user's “Log my emails by default” is replaced by the value below and "
        "shown locked on their settings page and in the add-in. Off: each user chooses."
    ),
    "log_all_by_default": (
        "Whether the add-in's Log box starts ticked for everyone. Only used while the "
        "switch above is on; reps can still untick it on a single email."
    ),
    "apply_association_for_all": (
        "On: which records a logged email is attached to (below) is decided here for "
        "everyone and locked on their settings page. Off: each user chooses."
    ),
    "associate_contacts": "Attach logged emails to each recipient's contact record.",
    "associate_companies": "Attach logged emails to the recipients' primary companies.",
    "associate_deals": (
        "Attach logged emails to the recipients' five most recent open deals."
    ),
    "associate_tickets": (
        "Attach logged emails to the recipients' five most recent open tickets."
    ),
    "allow_tracking": (
        "The master switch. Off: nobody can track opens or clicks, the Track box "
        "disappears from the add-in and every user's track default is locked off."
    ),
    "apply_track_for_all": (
        "On: every user's “Track my emails by default” is replaced by the value below "
        "and shown locked. Only possible while tracking is allowed."
    ),
    "track_all_by_default": (
        "Whether the add-in's Track box starts ticked for everyone. Only used while "
        "the switch above is on."
    ),
    "privacy_enabled": (
        "On: emails are logged only to contacts with a legal basis for processing; "
        "reps see which recipients were left out and why."
    ),
    "bcc_prefix": (
        "The readable start of the BCC address (before the “+”). Changing it changes "
        "the address; the secret part after the “+” stays."
    ),
    "log_attachments": (
        "Off: emails are logged without their attachments, and their timeline says so."
    ),
    "max_attachment_mb": (
        "Attachments larger than this are left out of the logged email; the timeline "
        "names each one left out. Default 50 MB."
    ),
    "max_body_mb": (
        "Emails whose body is larger than this are not logged; the sender is told why "
        "by email. Default 2 MB."
    ),
}


class AccountSettingsForm(forms.ModelForm):
    """The account's settings with limits in megabytes (stored in bytes)."""

    max_attachment_mb = forms.DecimalField(
        label="Largest attachment logged (MB)", min_value=0.1, decimal_places=1
    )
    max_body_mb = forms.DecimalField(
        label="Largest email body logged (MB)", min_value=0.1, decimal_places=1
    )

    class Meta:
        model = AccountSettings
        fields = [*ACCOUNT_FLAGS, "bcc_prefix"]
        help_texts = ACCOUNT_HELP

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, bytes_field in LIMIT_FIELDS.items():
            self.fields[name].help_text = ACCOUNT_HELP[name]
            self.fields[name].initial = round(
                getattr(self.instance, bytes_field) / MB, 1
            )

    def changes(self) -> dict[str, Any]:
        """The changed settings as the service takes them, limits back in bytes."""
        data: dict[str, Any] = {}
        for name in self.changed_data:
            if name in LIMIT_FIELDS:
                data[LIMIT_FIELDS[name]] = int(self.cleaned_data[name] * MB)
            else:
                data[name] = self.cleaned_data[name]
        return data


LIMIT_FIELDS = {
    "max_attachment_mb": "max_attachment_bytes",
    "max_body_mb": "max_body_bytes",
}


@admin.register(AccountSettings)
class AccountSettingsAdmin(admin.ModelAdmin):
    """The account's one row (S1 to S9): every staff member may read it, super admins change it."""

    form = AccountSettingsForm
    change_form_template = "admin/settings_admin/accountsettings/change_form.html"
    readonly_fields = ["bcc_address_display", "never_log_display", "blocked_display"]
    fieldsets = [
        (
            "Logging: is an email logged by default?",
            {"fields": ["apply_log_for_all", "log_all_by_default"]},
        ),
        (
            "Logging: which records a logged email is attached to",
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
        (
            "Tracking: may anyone track opens and clicks?",
            {"fields": ["allow_tracking"]},
        ),
        (
            "Tracking: is an email tracked by default?",
            {
                "fields": ["apply_track_for_all", "track_all_by_default"],
                "description": "Only available while tracking is allowed above.",
            },
        ),
        ("Data privacy (legal basis)", {"fields": ["privacy_enabled"]}),
        ("Addresses that are never logged", {"fields": ["never_log_display"]}),
        (
            "The BCC address for logging from any mail client",
            {
                "fields": ["bcc_prefix", "bcc_address_display"],
                "description": (
                    "Anyone in the account can BCC this address to log an email. "
                    "Regenerate it (button above) if it leaked: the old one stops "
                    "logging at once."
                ),
            },
        ),
        (
            "Office networks whose opens and clicks never notify",
            {"fields": ["blocked_display"]},
        ),
        (
            "Attachments and size limits",
            {"fields": ["log_attachments", "max_attachment_mb", "max_body_mb"]},
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
        account_settings_update(data=form.changes())
        obj.refresh_from_db()

    @admin.display(description="BCC address")
    def bcc_address_display(self, obj: AccountSettings) -> str:
        return format_html(
            '<span class="copy-field"><code id="bcc-address">{}</code> '
            '<button type="button" class="button" data-copy="#bcc-address" hidden>'
            "Copy</button></span>",
            obj.bcc_address,
        )

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
    list_display = ["email", "user", "kind", "created_at", "confirmed_at"]
    list_select_related = ["user"]
    search_fields = ["email", "user__username", "user__email"]
    list_filter = ["kind"]
    autocomplete_fields = ["user"]

    def save_model(
        self, request: HttpRequest, obj: SendingIdentity, form: Any, change: bool
    ) -> None:
        """An address added or changed here waits for its owner's confirmation (U2),
        as one added on the settings page does."""
        if not change or {"email", "user"} & set(form.changed_data):
            obj.confirmed_at = None
        super().save_model(request, obj, form, change)
        sending_identity_send_confirmation(identity=obj)


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
