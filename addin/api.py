"""The add-in's API: its tokens, and the compose context (A2) its Log and Track boxes show
before Send."""

from __future__ import annotations

from functools import partial
from typing import Any

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BooleanField, CharField, EmailField
from rest_framework.views import APIView

from addin import services
from addin.models import AddinToken
from addin.selectors import (
    ComposeContext,
    RecipientContext,
    addin_tokens_for_user,
    compose_context,
)
from config.api import (
    EmailAddressField,
    NotAllowed,
    StrictSerializer,
    caller,
    operation,
    own_list,
    record_shape,
    validated,
)
from tracking.api import message_addresses

addin_operation = partial(operation, tag="addin")


class RecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    selected = serializers.BooleanField(
        help_text="Ticked by default (S2 / user setting)."
    )


ContactBriefSerializer = record_shape(
    "ContactBrief", name=CharField, email=EmailField, has_legal_basis=BooleanField
)


class RecipientSerializer(serializers.Serializer):
    email = serializers.EmailField()
    kind = serializers.ChoiceField(choices=["to", "cc", "bcc"])
    tracked = serializers.BooleanField()
    track_reason = serializers.CharField()
    never_log = serializers.BooleanField()
    log_reason = serializers.ChoiceField(
        choices=["", "never_log", "no_legal_basis"],
        help_text="Why logging would leave this recipient out (L3, P1); empty if not.",
    )
    contact = ContactBriefSerializer(allow_null=True)
    new_contact = serializers.BooleanField(
        help_text="Logging would create this contact (L4); the add-in can untick it."
    )
    company = RecordSerializer(allow_null=True)
    deals = RecordSerializer(many=True)
    tickets = RecordSerializer(many=True)


def _name(record: Any) -> str:
    return str(getattr(record, "name", None) or getattr(record, "subject", record))


def _records(records: list[Any], selected: bool) -> list[dict[str, Any]]:
    return [{"id": r.pk, "name": _name(r), "selected": selected} for r in records]


def recipient_data(row: RecipientContext, associate: dict[str, bool]) -> dict[str, Any]:
    contact = row.contact
    return {
        "email": row.email,
        "kind": row.kind,
        "tracked": row.tracked,
        "track_reason": row.track_reason,
        "never_log": row.never_log,
        "log_reason": row.log_reason,
        "contact": None
        if contact is None
        else {
            "id": contact.pk,
            "name": contact.full_name or row.email,
            "email": row.email,
            "has_legal_basis": contact.has_legal_basis,
        },
        "new_contact": row.new_contact,
        "company": None
        if row.company is None
        else _records([row.company], associate["companies"])[0],
        "deals": _records(row.deals, associate["deals"]),
        "tickets": _records(row.tickets, associate["tickets"]),
    }


def compose_context_data(context: ComposeContext) -> dict[str, Any]:
    return {
        "log": {
            "default": context.log_default,
            "allowed": context.log_allowed,
            "locked": context.log_locked,
            "reason": context.log_reason,
            "bcc_address": context.bcc_address,
        },
        "track": {
            "default": context.track_default,
            "enabled": context.track_enabled,
            "locked": context.track_locked,
            "label": context.track_label,
        },
        "anonymous_notice": context.anonymous_notice,
        "associate": context.associate,
        "recipients": [
            recipient_data(row, context.associate) for row in context.recipients
        ],
    }


class LogBoxSerializer(serializers.Serializer):
    default = serializers.BooleanField()
    allowed = serializers.BooleanField()
    locked = serializers.BooleanField()
    reason = serializers.CharField(help_text='"" or not_a_sending_identity (U2)')
    bcc_address = serializers.EmailField()


class TrackBoxSerializer(serializers.Serializer):
    default = serializers.BooleanField()
    enabled = serializers.BooleanField()
    locked = serializers.BooleanField()
    # The JSON key is "label"; the stubs know `label` as Field.label only.
    label = serializers.CharField()  # type: ignore[assignment]


class ComposeContextApi(APIView):
    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "ComposeContextInput"

        from_address = EmailAddressField(
            required=False, help_text="Defaults to the caller's login email."
        )
        to = serializers.ListField(child=EmailAddressField(), required=False)
        cc = serializers.ListField(child=EmailAddressField(), required=False)
        bcc = serializers.ListField(child=EmailAddressField(), required=False)

    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "ComposeContext"

        log = LogBoxSerializer()
        track = TrackBoxSerializer()
        anonymous_notice = serializers.CharField(
            help_text="C2; empty for one recipient."
        )
        associate = serializers.DictField(child=serializers.BooleanField())
        recipients = RecipientSerializer(many=True)

    @operation("addin_compose_context", {200: OutputSerializer}, errors={})
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer, request.data)
        user = caller(request)
        context = compose_context(user=user, **message_addresses(user, data))
        return Response(compose_context_data(context))


class AddinTokenOutput(serializers.ModelSerializer[AddinToken]):
    class Meta:
        model = AddinToken
        fields = ["id", "name", "prefix", "created_at", "last_used_at"]
        ref_name = "AddinToken"


class IssuedAddinTokenOutput(AddinTokenOutput):
    token = serializers.CharField(
        help_text="The token itself: shown this once, only its hash is kept."
    )

    class Meta(AddinTokenOutput.Meta):
        fields = [*AddinTokenOutput.Meta.fields, "token"]
        ref_name = "IssuedAddinToken"


def issued_token_data(issued: services.IssuedAddinToken) -> dict[str, Any]:
    return {**AddinTokenOutput(issued.token).data, "token": issued.key}


class AddinTokenListApi(APIView):
    class InputSerializer(StrictSerializer):
        class Meta:
            ref_name = "AddinTokenCreate"

        name = serializers.CharField(
            max_length=100, help_text='How the rep will recognise it, e.g. "Outlook".'
        )

    @own_list("addin_token_list", AddinTokenOutput, tag="addin")
    def get(self, user: Any) -> Any:
        """The caller's add-in tokens, newest first, with their last use."""
        return addin_tokens_for_user(user)

    @addin_operation("addin_token_create", {201: IssuedAddinTokenOutput})
    def post(self, request: Request) -> Response:
        """Issue a named add-in token (from a signed-in web session only)."""
        user = caller(request)
        # A token must not mint tokens: revoking a leaked one would not end its reach.
        if isinstance(request.auth, AddinToken):
            raise NotAllowed(
                "Add-in tokens are issued from a signed-in session, not with a token.",
                code="token_cannot_issue_tokens",
            )
        name = validated(self.InputSerializer, request.data)["name"]
        issued = services.addin_token_create(user=user, name=name)
        return Response(issued_token_data(issued), status=status.HTTP_201_CREATED)


class AddinTokenRevokeApi(APIView):
    @addin_operation("addin_token_revoke", {204: None})
    def delete(self, request: Request, pk: int) -> Response:
        """Revoke one of the caller's add-in tokens; it stops working at once."""
        services.addin_token_revoke(user=caller(request), token_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AddinTokenCurrentApi(APIView):
    @addin_operation("addin_token_current", {200: AddinTokenOutput})
    def get(self, request: Request) -> Response:
        """The token this request was made with."""
        return Response(AddinTokenOutput(self._token(request)).data)

    @addin_operation("addin_token_sign_out", {204: None})
    def delete(self, request: Request) -> Response:
        """Sign the add-in out: revoke the token this request was made with."""
        token = self._token(request)
        services.addin_token_revoke(user=caller(request), token_id=token.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _token(self, request: Request) -> AddinToken:
        caller(request)
        if not isinstance(request.auth, AddinToken):
            raise NotAllowed(
                "This request was not made with an add-in token.",
                code="not_token_authenticated",
            )
        return request.auth
