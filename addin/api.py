"""The compose-context API (A2): what the add-in's Log and Track boxes show before Send."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from addin.selectors import ComposeContext, RecipientContext, compose_context
from config.api import EmailAddressField, StrictSerializer, caller


class RecordSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    selected = serializers.BooleanField(
        help_text="Ticked by default (S2 / user setting)."
    )


class ContactBriefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()
    has_legal_basis = serializers.BooleanField()


class RecipientSerializer(serializers.Serializer):
    email = serializers.EmailField()
    kind = serializers.ChoiceField(choices=["to", "cc", "bcc"])
    tracked = serializers.BooleanField()
    track_reason = serializers.CharField()
    never_log = serializers.BooleanField()
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

    @extend_schema(
        operation_id="addin_compose_context",
        request=InputSerializer,
        responses=OutputSerializer,
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = caller(request)
        context = compose_context(
            user=user,
            from_address=data.get("from_address") or user.email,
            to=data.get("to", []),
            cc=data.get("cc", []),
            bcc=data.get("bcc", []),
        )
        return Response(compose_context_data(context))
