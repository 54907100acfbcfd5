"""REST API for settings: effective, own, account (S1-S9), never-log lists, identities.

Nobody can change another user's settings: `settings/me/` only ever reads and writes
the caller's own row.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import (
    ERRORS,
    EmailAddressField,
    StrictSerializer,
    caller,
    operation,
    own_delete_api,
    own_list,
    validated,
)
from crm.selectors import contact_get_for_user
from settings_admin import selectors, services
from settings_admin.models import (
    ACCOUNT_FLAGS,
    MAX_ATTACHMENT_BYTES,
    MAX_BODY_BYTES,
    AccountSettings,
    NeverLogEntry,
    NeverLogScope,
    NotificationMute,
    Seat,
    SendingIdentityKind,
    UserSettings,
)
from tracking.selectors import tracked_email_get_for_user

settings_operation = partial(operation, tag="settings")
settings_list = partial(own_list, tag="settings")
settings_delete_api = partial(own_delete_api, tag="settings")

USER_FIELDS = (
    "log_by_default",
    "track_by_default",
    "associate_contacts",
    "associate_companies",
    "associate_deals",
    "associate_tickets",
    "create_contacts",
    "desktop_notifications",
)


class EffectiveSettingsApi(APIView):
    class OutputSerializer(serializers.Serializer[Any]):
        seat = serializers.ChoiceField(choices=Seat.choices)
        tracking_allowed = serializers.BooleanField(help_text="S3")
        track_clicks = serializers.BooleanField(help_text="Sales seats only (U1).")
        track_by_default = serializers.BooleanField()
        track_locked = serializers.BooleanField()
        log_by_default = serializers.BooleanField()
        log_locked = serializers.BooleanField()
        associate = serializers.DictField(child=serializers.BooleanField())
        associate_locked = serializers.BooleanField()
        create_contacts = serializers.BooleanField()
        desktop_notifications = serializers.BooleanField()
        privacy_enabled = serializers.BooleanField(help_text="S5")
        log_attachments = serializers.BooleanField()
        max_attachment_bytes = serializers.IntegerField()
        max_body_bytes = serializers.IntegerField()
        bcc_address = serializers.EmailField()

        class Meta:
            ref_name = "EffectiveSettings"

    @settings_operation("settings_effective", {200: OutputSerializer})
    def get(self, request: Request) -> Response:
        """What applies to the caller, after the account's apply-for-all switches."""
        effective = selectors.effective_settings(caller(request))
        return Response(self.OutputSerializer(effective.as_dict()).data)


class UserSettingsOutput(serializers.ModelSerializer[UserSettings]):
    locked = serializers.SerializerMethodField(
        help_text="Fields the account decides for all users; changing them is refused."
    )
    bcc_address = serializers.SerializerMethodField(
        help_text="The caller's personal BCC address: mail BCC'd to it is logged as "
        "the caller when it is from one of the caller's sending identities. Shown "
        "only to its owner."
    )

    class Meta:
        model = UserSettings
        ref_name = "UserSettings"
        fields = ["seat", *USER_FIELDS, "bcc_address", "locked", "updated_at"]

    def get_locked(self, own: UserSettings) -> list[str]:
        return selectors.locked_user_fields(selectors.account_settings_get())

    def get_bcc_address(self, own: UserSettings) -> str:
        return own.bcc_address(selectors.account_settings_get())


class MySettingsApi(APIView):
    class InputSerializer(StrictSerializer, serializers.ModelSerializer[UserSettings]):
        seat = serializers.CharField(
            required=False, help_text="Read-only here: refused with `read_only_field`."
        )

        class Meta:
            model = UserSettings
            ref_name = "UserSettingsUpdate"
            fields = ["seat", *USER_FIELDS]

        def validate_seat(self, value: str) -> str:
            raise serializers.ValidationError(
                "The seat is set by a super admin.", code="read_only_field"
            )

    @settings_operation("settings_me_read", {200: UserSettingsOutput})
    def get(self, request: Request) -> Response:
        """The caller's own settings."""
        own = selectors.user_settings_get(caller(request))
        return Response(UserSettingsOutput(own).data)

    @settings_operation("settings_me_update", {200: UserSettingsOutput})
    def patch(self, request: Request) -> Response:
        """Change the caller's own settings; locked ones are `setting_locked`."""
        data = validated(self.InputSerializer, request.data)
        own = services.user_settings_update(user=caller(request), data=data)
        return Response(UserSettingsOutput(own).data)


class MyBccRegenerateApi(APIView):
    @settings_operation(
        "settings_me_regenerate_bcc", {200: UserSettingsOutput}, request=None
    )
    def post(self, request: Request) -> Response:
        """A new personal BCC address for the caller; the old one stops logging."""
        own = services.user_bcc_regenerate(user=caller(request))
        return Response(UserSettingsOutput(own).data)


class AccountSettingsOutput(serializers.ModelSerializer[AccountSettings]):
    bcc_address = serializers.EmailField(help_text="S7: BCC it to log an email.")

    class Meta:
        model = AccountSettings
        ref_name = "AccountSettings"
        fields = [
            *ACCOUNT_FLAGS,
            "bcc_prefix",
            "bcc_address",
            "max_attachment_bytes",
            "max_body_bytes",
            "updated_at",
        ]


def _account_response(account: AccountSettings) -> Response:
    return Response(AccountSettingsOutput(account).data)


class AccountSettingsApi(APIView):
    class InputSerializer(
        StrictSerializer, serializers.ModelSerializer[AccountSettings]
    ):
        max_attachment_bytes = serializers.IntegerField(
            min_value=1, max_value=MAX_ATTACHMENT_BYTES, required=False
        )
        max_body_bytes = serializers.IntegerField(
            min_value=1, max_value=MAX_BODY_BYTES, required=False
        )

        class Meta:
            model = AccountSettings
            ref_name = "AccountSettingsUpdate"
            fields = [
                *ACCOUNT_FLAGS,
                "bcc_prefix",
                "max_attachment_bytes",
                "max_body_bytes",
            ]

    @settings_operation("settings_account_read", {200: AccountSettingsOutput})
    def get(self, request: Request) -> Response:
        """The account's defaults (every signed-in user may read them)."""
        return _account_response(selectors.account_settings_get_for_user(request.user))

    @settings_operation("settings_account_update", {200: AccountSettingsOutput})
    def patch(self, request: Request) -> Response:
        """Change the account's defaults (super admins only).

        S4 (apply track for all) while S3 (allow tracking) is off is
        `track_default_needs_tracking`.
        """
        selectors.account_settings_get_for_user(request.user, write=True)
        data = validated(self.InputSerializer, request.data)
        return _account_response(services.account_settings_update(data=data))


class AccountBccRegenerateApi(APIView):
    @settings_operation(
        "settings_account_regenerate_bcc", {200: AccountSettingsOutput}, request=None
    )
    def post(self, request: Request) -> Response:
        """A new BCC address; the old one stops logging (super admins only)."""
        selectors.account_settings_get_for_user(request.user, write=True)
        return _account_response(services.account_bcc_regenerate())


class NeverLogOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    pattern = serializers.CharField()
    scope = serializers.ChoiceField(choices=NeverLogScope.choices)
    editable = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "NeverLogEntry"

    def get_editable(self, entry: NeverLogEntry) -> bool:
        request = self.context["request"]
        return selectors.never_log_entry_can_change(request.user, entry)


class NeverLogListApi(APIView):
    class InputSerializer(StrictSerializer):
        pattern = serializers.CharField(
            max_length=254, help_text="`name@domain.com` or `*@domain.com`."
        )
        scope = serializers.ChoiceField(
            choices=NeverLogScope.choices,
            default=NeverLogScope.USER,
            help_text="`account` is for super admins only.",
        )

        class Meta:
            ref_name = "NeverLogEntryCreate"

    @settings_list("never_log_list", NeverLogOutput)
    def get(self, user: Any) -> Any:
        """The account's never-log list and the caller's own."""
        return selectors.never_log_entries_for_user(user)

    @settings_operation("never_log_create", {201: NeverLogOutput})
    def post(self, request: Request) -> Response:
        user = caller(request)
        data = validated(self.InputSerializer, request.data)
        account_wide = data["scope"] == NeverLogScope.ACCOUNT
        if account_wide:
            selectors.account_settings_get_for_user(user, write=True)
        entry = services.never_log_add(
            pattern=data["pattern"], user=None if account_wide else user
        )
        output = NeverLogOutput(entry, context={"request": request})
        return Response(output.data, status=status.HTTP_201_CREATED)


NeverLogDeleteApi = settings_delete_api(
    "never_log_delete",
    partial(selectors.never_log_entry_get_for_user, write=True),
    lambda entry: services.never_log_remove(entry=entry),
)


class IdentityOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField(
        allow_null=True, help_text="Null for the login email, which cannot be removed."
    )
    email = serializers.EmailField()
    kind = serializers.ChoiceField(choices=SendingIdentityKind.choices)
    confirmed = serializers.SerializerMethodField(
        help_text="False until the owner opens the link mailed to the address: until "
        "then it logs nothing and creates no contact (U2). The login email is confirmed."
    )

    class Meta:
        ref_name = "SendingIdentity"

    def get_confirmed(self, identity: Any) -> bool:
        if isinstance(identity, dict):
            return True  # the login email
        return identity.confirmed_at is not None


class IdentityListApi(APIView):
    class InputSerializer(StrictSerializer):
        email = EmailAddressField()

        class Meta:
            ref_name = "SendingIdentityCreate"

    @settings_list("identities_list", IdentityOutput)
    def get(self, user: Any) -> list[Any]:
        """The addresses the caller may send from (U2), login email first."""
        login = getattr(user, "email", "")
        # The login email cannot be removed: it has no id.
        identities: list[Any] = (
            [{"id": None, "email": login.lower(), "kind": SendingIdentityKind.LOGIN}]
            if login
            else []
        )
        return [*identities, *selectors.sending_identities_for_user(user)]

    @settings_operation(
        "identities_create",
        {201: IdentityOutput, 409: ERRORS[400]},
    )
    def post(self, request: Request) -> Response:
        """Add an alias the caller sends from; it logs once confirmed by the link mailed
        to it."""
        identity = services.sending_identity_add(
            user=caller(request),
            email=validated(self.InputSerializer, request.data)["email"],
            kind=SendingIdentityKind.ALIAS,
        )
        return Response(IdentityOutput(identity).data, status=status.HTTP_201_CREATED)


IdentityDeleteApi = settings_delete_api(
    "identities_delete",
    selectors.sending_identity_get_for_user,
    lambda identity: services.sending_identity_remove(identity=identity),
)


class MuteOutput(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    contact = serializers.SerializerMethodField(
        help_text="The muted contact `{id, name}`, or null when an email is muted."
    )
    email = serializers.SerializerMethodField(
        help_text="The muted email `{id, subject}`, or null when a contact is muted."
    )
    created_at = serializers.DateTimeField()

    class Meta:
        ref_name = "NotificationMute"

    def get_contact(self, mute: NotificationMute) -> dict[str, Any] | None:
        if mute.contact is None:
            return None
        return {"id": mute.contact.pk, "name": str(mute.contact)}

    def get_email(self, mute: NotificationMute) -> dict[str, Any] | None:
        if mute.email is None:
            return None
        return {"id": mute.email.pk, "subject": mute.email.subject}


def _mute_add(user: Any, data: dict[str, Any]) -> NotificationMute:
    """Mutes a contact the user can see, or one of the user's own tracked emails."""
    if "contact" in data:
        contact = contact_get_for_user(user, data["contact"])
        return services.notification_mute_add(user=user, contact_id=contact.pk)
    email = tracked_email_get_for_user(user, data["email"])
    return services.notification_mute_add(user=user, email_id=email.pk)


class MuteListApi(APIView):
    class InputSerializer(StrictSerializer):
        contact = serializers.IntegerField(
            required=False, help_text="A contact whose opens and clicks never notify."
        )
        email = serializers.IntegerField(
            required=False, help_text="One of the caller's tracked emails to mute."
        )

        class Meta:
            ref_name = "NotificationMuteCreate"

        def validate(self, data: dict[str, Any]) -> dict[str, Any]:
            if ("contact" in data) == ("email" in data):
                raise serializers.ValidationError(
                    "Give either a contact or an email.", code="mute_contact_or_email"
                )
            return data

    @settings_list("notification_mutes_list", MuteOutput)
    def get(self, user: Any) -> Any:
        """The contacts and emails the caller muted (V3)."""
        return selectors.notification_mutes_for_user(user)

    @settings_operation("notification_mutes_create", {201: MuteOutput})
    def post(self, request: Request) -> Response:
        """Mute a contact or one of the caller's emails: no more notifications.

        Muting what is muted already answers the same mute. A contact the caller cannot
        see, or an email that is not the caller's, is 404.
        """
        data = validated(self.InputSerializer, request.data)
        mute = _mute_add(caller(request), data)
        return Response(MuteOutput(mute).data, status=status.HTTP_201_CREATED)


MuteDeleteApi = settings_delete_api(
    "notification_mutes_delete",
    selectors.notification_mute_get_for_user,
    lambda mute: services.notification_mute_remove(mute=mute),
    summary="Unmute: notifications of it come again",
)
