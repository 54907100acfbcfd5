"""Tracked email API (A2): register, mark sent, status and counts, events."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from activity.api import LogAssociationsInputSerializer
from config.api import (
    PAGE_PARAMETERS,
    EmailAddressField,
    ErrorOutput,
    StrictSerializer,
    caller,
    paginated,
    paginated_schema,
)
from tracking.models import TrackedEmail
from tracking.selectors import (
    tracked_email_events,
    tracked_email_get_for_user,
    tracked_email_summary,
)
from tracking.services import (
    ANONYMOUS_NOTICE,
    RegisteredEmail,
    tracked_email_mark_sent,
    tracked_email_register,
)


class RecipientDecisionSerializer(serializers.Serializer):
    email = serializers.EmailField()
    tracked = serializers.BooleanField()
    reason = serializers.CharField(
        help_text=(
            "tracked, not_requested, tracking_disabled, never_log, not_a_contact, "
            "no_legal_basis or other_recipient_not_trackable"
        )
    )


class LogRegistrationSerializer(serializers.Serializer):
    registration_id = serializers.IntegerField()
    token = serializers.CharField(
        help_text="Put in the X-Beacon-Registration header of the email sent (L1a)."
    )
    bcc_address = serializers.EmailField(
        help_text="Add this address as BCC: the copy that arrives is logged (L1a)."
    )
    associations = serializers.JSONField(
        allow_null=True, help_text="The chosen records; null means the defaults (L5)."
    )


def registered_email_data(registered: RegisteredEmail) -> dict[str, Any]:
    email = registered.email
    return {
        "id": email.pk,
        "html": registered.html,
        "tracked": email.tracked,
        "track_clicks": email.track_clicks,
        "anonymous": email.is_anonymous,
        "notice": ANONYMOUS_NOTICE if email.is_anonymous else "",
        "recipients": email.decisions,
        "log": None
        if registered.log is None
        else {
            "registration_id": registered.log.pk,
            "token": registered.log.token,
            "bcc_address": registered.log.bcc_address,
            "associations": registered.log.associations,
        },
    }


class EmailRegisterApi(APIView):
    @extend_schema_serializer(component_name="EmailRegisterInput")
    class InputSerializer(StrictSerializer):
        from_address = EmailAddressField(required=False)
        to = serializers.ListField(child=EmailAddressField(), allow_empty=True)
        cc = serializers.ListField(
            child=EmailAddressField(), required=False, default=list
        )
        bcc = serializers.ListField(
            child=EmailAddressField(), required=False, default=list
        )
        subject = serializers.CharField(allow_blank=True, max_length=998, default="")
        html = serializers.CharField(
            allow_blank=True, trim_whitespace=False, default=""
        )
        track = serializers.BooleanField(default=False)
        log = serializers.BooleanField(default=False)
        associations = LogAssociationsInputSerializer(
            required=False,
            allow_null=True,
            help_text="With log: exactly these records (L5); left out: the defaults.",
        )
        skip_new_contacts = serializers.ListField(
            child=EmailAddressField(),
            required=False,
            default=list,
            help_text="With log: unknown recipients not to create as contacts (L4).",
        )
        draft_key = serializers.RegexField(
            r"^[A-Za-z0-9_.:-]{8,64}$",
            required=False,
            default="",
            help_text=(
                "The add-in's id for the draft. Registering the same draft again "
                "updates its registration (same id, same BCC address, tracking not "
                "doubled); once the email is marked sent it answers 409 already_sent."
            ),
        )

    @extend_schema_serializer(component_name="RegisteredEmail")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        html = serializers.CharField(
            help_text="The HTML to send: pixel and links added."
        )
        tracked = serializers.BooleanField()
        track_clicks = serializers.BooleanField()
        anonymous = serializers.BooleanField(help_text="C2: opens reported as someone.")
        notice = serializers.CharField(allow_blank=True)
        recipients = RecipientDecisionSerializer(many=True)
        log = LogRegistrationSerializer(allow_null=True)

    @extend_schema(
        operation_id="emails_register",
        request=InputSerializer,
        responses={201: OutputSerializer, 409: ErrorOutput},
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        user = caller(request)
        registered = tracked_email_register(
            user=user,
            from_address=values.get("from_address") or user.email,
            to=values["to"],
            cc=values["cc"],
            bcc=values["bcc"],
            subject=values["subject"],
            html=values["html"],
            track=values["track"],
            log=values["log"],
            associations=values.get("associations"),
            skip_new_contacts=values["skip_new_contacts"],
            draft_key=values["draft_key"],
        )
        body = self.OutputSerializer(registered_email_data(registered)).data
        return Response(body, status=status.HTTP_201_CREATED)


class LinkClicksSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    url = serializers.CharField()
    clicks = serializers.IntegerField()


class EmailOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    subject = serializers.CharField()
    from_address = serializers.EmailField()
    to = serializers.ListField(child=serializers.EmailField())
    cc = serializers.ListField(child=serializers.EmailField())
    bcc = serializers.ListField(child=serializers.EmailField())
    tracked = serializers.BooleanField()
    track_clicks = serializers.BooleanField()
    anonymous = serializers.BooleanField()
    contact_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["registered", "sent", "opened", "clicked"]
    )
    opens = serializers.IntegerField()
    clicks = serializers.IntegerField()
    first_opened_at = serializers.DateTimeField(allow_null=True)
    last_opened_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    links = LinkClicksSerializer(many=True)


def email_data(email: TrackedEmail) -> dict[str, Any]:
    summary = tracked_email_summary(email)
    return {
        "id": email.pk,
        "subject": email.subject,
        "from_address": email.from_address,
        "to": email.to,
        "cc": email.cc,
        "bcc": email.bcc,
        "tracked": email.tracked,
        "track_clicks": email.track_clicks,
        "anonymous": email.is_anonymous,
        "contact_id": email.contact_id,
        "status": summary.status,
        "opens": summary.opens,
        "clicks": summary.clicks,
        "first_opened_at": summary.first_opened_at,
        "last_opened_at": summary.last_opened_at,
        "sent_at": email.sent_at,
        "created_at": email.created_at,
        "links": summary.links,
    }


class EmailSentApi(APIView):
    @extend_schema(
        operation_id="emails_mark_sent", request=None, responses=EmailOutputSerializer
    )
    def post(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        email = tracked_email_mark_sent(email=email)
        return Response(EmailOutputSerializer(email_data(email)).data)


class EmailDetailApi(APIView):
    @extend_schema(operation_id="emails_retrieve", responses=EmailOutputSerializer)
    def get(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        return Response(EmailOutputSerializer(email_data(email)).data)


class EmailEventsApi(APIView):
    @extend_schema_serializer(component_name="TrackingEvent")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        kind = serializers.CharField()
        occurred_at = serializers.DateTimeField()
        verdict = serializers.CharField()
        reason = serializers.CharField()
        counted = serializers.BooleanField()
        inferred = serializers.BooleanField()
        ip = serializers.IPAddressField(allow_null=True)
        user_agent = serializers.CharField(allow_blank=True)
        method = serializers.CharField(allow_blank=True)
        link_id = serializers.IntegerField(allow_null=True)
        link_url = serializers.CharField(
            allow_null=True, source="link.url", default=None
        )
        trap = serializers.BooleanField(source="link.is_trap", default=False)
        contact_id = serializers.IntegerField(allow_null=True)

    @extend_schema(
        operation_id="emails_events_list",
        parameters=PAGE_PARAMETERS,
        responses=paginated_schema(OutputSerializer, "TrackingEvent"),
    )
    def get(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        events = tracked_email_events(email)
        return paginated(request, self, events, self.OutputSerializer)
