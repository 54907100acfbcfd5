"""Tracked email API (A2): register, mark sent, status and counts, events."""

from __future__ import annotations

from functools import partial
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BooleanField, CharField, IntegerField
from rest_framework.views import APIView

from activity.api import LogAssociationsInputSerializer
from config.api import (
    EmailAddressField,
    ErrorOutput,
    StrictSerializer,
    caller,
    list_operation,
    operation,
    paginated,
    record_shape,
    validated,
)
from tracking.models import TrackedEmail
from tracking.selectors import (
    STATUS_LABELS,
    latest_event_id,
    notifications_after,
    tracked_email_events,
    tracked_email_get_for_user,
    tracked_email_summary,
)
from tracking.services import (
    tracked_email_mark_sent,
    tracked_email_register,
)

# Most of this API's operations leave their errors to config.schema's shared ones.
tracking_operation = partial(operation, errors={})


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
    registration_id = serializers.IntegerField(source="pk")
    token = serializers.CharField(
        help_text="Put in the X-Beacon-Registration header of the email sent (L1a)."
    )
    bcc_address = serializers.EmailField(
        help_text="Add this address as BCC: the copy that arrives is logged (L1a)."
    )
    associations = serializers.JSONField(
        allow_null=True, help_text="The chosen records; null means the defaults (L5)."
    )


def message_addresses(user: Any, data: dict[str, Any]) -> dict[str, Any]:
    """The addresses of a message as the add-in sends them (compose context, register):
    without a From, the caller's login email."""
    return {
        "from_address": data.get("from_address") or user.email,
        "to": data.get("to", []),
        "cc": data.get("cc", []),
        "bcc": data.get("bcc", []),
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
    # Reads a tracking.services.RegisteredEmail (no docstring: it would be the
    # component's description).
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField(source="email.pk")
        html = serializers.CharField(
            help_text="The HTML to send: pixel and links added."
        )
        tracked = serializers.BooleanField(source="email.tracked")
        track_clicks = serializers.BooleanField(source="email.track_clicks")
        anonymous = serializers.BooleanField(
            source="email.is_anonymous", help_text="C2: opens reported as someone."
        )
        notice = serializers.CharField(allow_blank=True)
        recipients = RecipientDecisionSerializer(many=True, source="email.decisions")
        log = LogRegistrationSerializer(allow_null=True)

    @tracking_operation("emails_register", {201: OutputSerializer, 409: ErrorOutput})
    def post(self, request: Request) -> Response:
        values = validated(self.InputSerializer, request.data)
        user = caller(request)
        values |= message_addresses(user, values)
        registered = tracked_email_register(user=user, **values)
        body = self.OutputSerializer(registered).data
        return Response(body, status=status.HTTP_201_CREATED)


LinkClicksSerializer = record_shape(
    "LinkClicks", position=IntegerField, url=CharField, clicks=IntegerField
)


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
    status = serializers.ChoiceField(choices=list(STATUS_LABELS))
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
    @tracking_operation("emails_mark_sent", {200: EmailOutputSerializer}, request=None)
    def post(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        email = tracked_email_mark_sent(email=email)
        return Response(EmailOutputSerializer(email_data(email)).data)


class EmailDetailApi(APIView):
    @tracking_operation("emails_retrieve", {200: EmailOutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        return Response(EmailOutputSerializer(email_data(email)).data)


class EmailEventsApi(APIView):
    # One hit as stored, with its verdict and why (T5-T7), and its link when a click.
    OutputSerializer = record_shape(
        "TrackingEvent",
        kind=CharField, occurred_at=serializers.DateTimeField, verdict=CharField,
        reason=CharField, counted=BooleanField, inferred=BooleanField,
        ip=partial(serializers.IPAddressField, allow_null=True),
        user_agent=partial(CharField, allow_blank=True),
        method=partial(CharField, allow_blank=True),
        link_id=partial(IntegerField, allow_null=True),
        link_url=partial(CharField, allow_null=True, source="link.url", default=None),
        trap=partial(BooleanField, source="link.is_trap", default=False),
        contact_id=partial(IntegerField, allow_null=True),
    )  # fmt: skip

    @list_operation(
        "emails_events_list", OutputSerializer, name="TrackingEvent", errors={}
    )
    def get(self, request: Request, pk: int) -> Response:
        email = tracked_email_get_for_user(request.user, pk)
        events = tracked_email_events(email)
        return paginated(request, self, events, self.OutputSerializer)


@extend_schema_serializer(component_name="TrackingNotification")
class NotificationSerializer(serializers.Serializer):
    """One counted open or click, as the notification socket sends it (T9)."""

    type = serializers.ChoiceField(choices=["tracking.event"])
    event_id = serializers.IntegerField(help_text="Show each id once.")
    email_id = serializers.IntegerField(help_text="Its page: /emails/{email_id}/.")
    subject = serializers.CharField(allow_blank=True)
    kind = serializers.ChoiceField(choices=["open", "click"])
    verdict = serializers.ChoiceField(choices=["human", "proxy"])
    contact = serializers.CharField(
        help_text='The contact\'s name, or "Someone" for anonymous emails (T2).'
    )
    link_url = serializers.CharField(allow_null=True, help_text="Clicks only.")
    occurred_at = serializers.DateTimeField()
    inferred = serializers.BooleanField(help_text="An open inferred from a click (T6).")
    desktop = serializers.BooleanField(
        help_text="The user wants desktop pop-ups (V3); in-page notices show anyway."
    )


class NotificationsApi(APIView):
    """Catch-up after a reconnect: what the socket sent, or would have sent, since."""

    class QuerySerializer(serializers.Serializer):
        after = serializers.IntegerField(min_value=0, required=False)
        page_size = serializers.IntegerField(min_value=1, max_value=200, default=50)

    @extend_schema_serializer(component_name="NotificationPage")
    class OutputSerializer(serializers.Serializer):
        results = NotificationSerializer(many=True)
        next = serializers.URLField(
            allow_null=True, help_text="The following page, while more are waiting."
        )
        cursor = serializers.IntegerField(
            help_text="Ask `after=<cursor>` next time (the last event id read, or "
            "without `after`, the newest event id: where a new browser starts)."
        )

    @operation(
        "notifications_list",
        {200: OutputSerializer},
        parameters=[
            OpenApiParameter(
                "after", int, description="The last event id this browser has seen."
            ),
            OpenApiParameter(
                "page_size", int, description="Notifications per page (max 200)."
            ),
        ],
    )
    def get(self, request: Request) -> Response:
        """The caller's notifications after an event id (catch-up, T9).

        Counted opens and clicks of the caller's tracked emails stored after event
        `after`, oldest first, read from the stored events; muted contacts and emails
        (V3) are left out, as on the socket. Without `after`: no results, and the cursor
        to start from.
        """
        query = validated(self.QuerySerializer, request.query_params)
        after: int | None = query.get("after")
        size: int = query["page_size"]
        if after is None:
            return Response({"results": [], "next": None, "cursor": latest_event_id()})
        found = notifications_after(caller(request), after=after, limit=size + 1)
        page, more = found[:size], len(found) > size
        cursor = page[-1]["event_id"] if page else after
        next_url = None
        if more:
            next_url = request.build_absolute_uri(
                f"{request.path}?after={cursor}&page_size={size}"
            )
        body = {"results": page, "next": next_url, "cursor": cursor}
        return Response(self.OutputSerializer(body).data)
