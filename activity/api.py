"""The logging API: raw inbound mail, timelines and a logged email's details (A1, A2)."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from functools import partial
from typing import IO, Any

import nh3
from django.core.files import File
from django.db.models import Model
from django.http import FileResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.parsers import BaseParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BooleanField, CharField
from rest_framework.views import APIView

from activity import services
from activity.inbound import MAX_MESSAGE_BYTES, inbound_receive
from activity.models import InboundRoute, LoggedEmail
from activity.selectors import (
    RECORD_MODELS,
    TIMELINE_PAGE_SIZE,
    BadCursor,
    association_ids,
    attachment_get_for_user,
    inbound_for_user,
    logged_email_get_for_user,
    record_get,
    thread_emails,
    timeline_page,
)
from activity.tasks import inbound_enqueue
from config.api import (
    Pagination,
    StrictSerializer,
    caller,
    list_operation,
    operation,
    record_shape,
    validated,
)
from tracking.models import TrackedEmail
from tracking.selectors import (
    FEED_STATES,
    STATUS_LABELS,
    EmailStatus,
    FeedFilters,
    email_statuses,
    feed_for_user,
)

COPY_CHUNK = 256 * 1024
# This API's operations leave their errors to config.schema's shared ones.
activity_operation = partial(operation, errors={})


class RawMessageParser(BaseParser):
    """`message/rfc822`: copies the body to a temporary file in chunks, never whole into
    memory, and answers it as a Django `File`."""

    media_type = "message/rfc822"

    def parse(  # type: ignore[override]
        self,
        stream: IO[Any] | None,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> File:
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the view, closed there
        total = 0
        while stream is not None and (chunk := stream.read(COPY_CHUNK)):
            total += len(chunk)
            if total > MAX_MESSAGE_BYTES:
                spool.close()
                raise ParseError(f"A raw message is at most {MAX_MESSAGE_BYTES} bytes.")
            spool.write(chunk)
        if total == 0:
            spool.close()
            raise ParseError("The body is empty: send one raw MIME message.")
        spool.seek(0)
        return File(spool, name="message.eml")


# -- shared output shapes ---------------------------------------------------------------


class AssociationsSerializer(serializers.Serializer):
    contacts = serializers.ListField(child=serializers.IntegerField())
    companies = serializers.ListField(child=serializers.IntegerField())
    deals = serializers.ListField(child=serializers.IntegerField())
    tickets = serializers.ListField(child=serializers.IntegerField())


class LogAssociationsInputSerializer(StrictSerializer):
    """The records chosen in the add-in's Log box (also used by `POST /api/v1/emails/`)."""

    contacts = serializers.ListField(child=serializers.IntegerField(), required=False)
    companies = serializers.ListField(child=serializers.IntegerField(), required=False)
    deals = serializers.ListField(child=serializers.IntegerField(), required=False)
    tickets = serializers.ListField(child=serializers.IntegerField(), required=False)


class AttachmentSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    is_inline = serializers.BooleanField()
    download_url = serializers.SerializerMethodField()

    def get_download_url(self, obj: Any) -> str:
        return reverse("attachment-download-api", args=[obj.pk])


class NoteSerializer(serializers.Serializer):
    """Something the timeline item tells: an attachment left out, a defect of the
    message read leniently, what was over a limit (activity.parser)."""

    code = serializers.CharField()
    filename = serializers.CharField(
        required=False, help_text="Attachment notes: the attachment's name."
    )
    size = serializers.IntegerField(
        required=False, help_text="Attachment notes: its size in bytes."
    )
    detail = serializers.CharField()


class LoggedEmailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    thread_id = serializers.IntegerField()
    message_id = serializers.CharField()
    sender_id = serializers.IntegerField(allow_null=True)
    from_address = serializers.CharField()
    from_name = serializers.CharField()
    to = serializers.ListField(child=serializers.CharField())
    cc = serializers.ListField(child=serializers.CharField())
    subject = serializers.CharField()
    sent_at = serializers.DateTimeField()
    is_pinned = serializers.BooleanField()
    notes = NoteSerializer(many=True)
    attachments = AttachmentSerializer(many=True, source="attachments.all")
    associations = serializers.SerializerMethodField()

    @extend_schema_field(AssociationsSerializer)
    def get_associations(self, obj: LoggedEmail) -> dict[str, list[int]]:
        return association_ids(obj)


# -- keyset pagination for timelines ----------------------------------------------------


def keyset_page(
    request: Request, record: Model
) -> tuple[list[LoggedEmail], str | None]:
    """One timeline page after `?cursor=` (activity.selectors.timeline_page, which the
    record pages read too) and the URL of the next."""
    try:
        size = int(request.query_params.get("page_size", TIMELINE_PAGE_SIZE))
    except ValueError:
        size = TIMELINE_PAGE_SIZE
    size = max(1, min(100, size))
    try:
        page, cursor = timeline_page(
            record, cursor=request.query_params.get("cursor"), size=size
        )
    except BadCursor as exc:
        raise NotFound("Unknown cursor.") from exc
    if cursor is None:
        return page, None
    url = request.build_absolute_uri(request.path)
    return page, f"{url}?cursor={cursor}&page_size={size}"


class TimelinePageSerializer(serializers.Serializer):
    next = serializers.CharField(allow_null=True)
    results = LoggedEmailSerializer(many=True)


# -- inbound ----------------------------------------------------------------------------


# A stored message's state (L1, S7): what it is, where it came from, what became of it.
InboundSerializer = record_shape(
    "Inbound",
    status=CharField, reason=CharField, detail=CharField, route=CharField,
    size=serializers.IntegerField, from_address=CharField, subject=CharField,
    logged_email_id=partial(serializers.IntegerField, allow_null=True),
    received_at=serializers.DateTimeField,
)  # fmt: skip


class InboundCreateApi(APIView):
    """One raw MIME message (L1): stored first, then parsed and logged by a worker."""

    parser_classes = [RawMessageParser]

    @activity_operation(
        "inbound_create",
        {202: InboundSerializer},
        request={"message/rfc822": OpenApiTypes.BINARY},
    )
    def post(self, request: Request) -> Response:
        raw = request.data
        if not isinstance(raw, File):
            raise ParseError("Send one raw message as message/rfc822.")
        try:
            inbound = inbound_receive(
                route=InboundRoute.API,
                raw=raw,
                posted_by=caller(request),
                enqueue=inbound_enqueue,
            )
        finally:
            raw.close()
        inbound.refresh_from_db()
        return Response(
            InboundSerializer(inbound).data, status=status.HTTP_202_ACCEPTED
        )


class InboundDetailApi(APIView):
    """What became of a received message: the poster, its sender and super admins see it."""

    @activity_operation("inbound_retrieve", {200: InboundSerializer})
    def get(self, request: Request, pk: int) -> Response:
        inbound = inbound_for_user(request.user).filter(pk=pk).first()
        if inbound is None:
            raise NotFound()
        return Response(InboundSerializer(inbound).data)


# -- timelines and logged emails ----------------------------------------------------------


class TimelineApi(APIView):
    """A record's logged emails: pinned first, then newest first (V1), keyset-paginated."""

    kind = "contacts"

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str, required=False),
            OpenApiParameter("page_size", int, required=False),
        ],
        responses={200: TimelinePageSerializer},
    )
    def get(self, request: Request, pk: int) -> Response:
        record = record_get(self.kind, pk)
        page, nxt = keyset_page(request, record)
        return Response(
            {"next": nxt, "results": LoggedEmailSerializer(page, many=True).data}
        )


class LoggedEmailDetailApi(APIView):
    @activity_operation("logged_email_get", {200: LoggedEmailSerializer})
    def get(self, request: Request, pk: int) -> Response:
        email = logged_email_get_for_user(request.user, pk, details=True)
        return Response(LoggedEmailSerializer(email).data)

    @activity_operation("logged_email_delete", {204: None})
    def delete(self, request: Request, pk: int) -> Response:
        email = logged_email_get_for_user(request.user, pk, write=True)
        services.logged_email_delete(email=email, actor=caller(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


# Remote images (and so tracking pixels) never load inside Beacon (T10).
REMOTE_PREFIXES = ("http:", "https:", "//", "ftp:")


def body_html(email: LoggedEmail, attachment_url: str) -> str:
    """The email's HTML body, safe to show (T10): its inline images point at our copies,
    served by the view named `attachment_url`."""
    inline = {
        item.content_id.lower(): reverse(attachment_url, args=[item.pk])
        for item in email.attachments.all()
        if item.content_id
    }
    return sanitise_html(email.html_body, inline) if email.html_body else ""


def sanitise_html(html: str, inline_urls: dict[str, str]) -> str:
    def attribute_filter(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src":
            lowered = value.strip().lower()
            if lowered.startswith("cid:"):
                return inline_urls.get(value.strip()[4:].strip("<>").lower())
            if lowered.startswith(REMOTE_PREFIXES) or not lowered.startswith("data:"):
                return None
        return value

    return nh3.clean(
        html,
        attribute_filter=attribute_filter,
        link_rel="noopener noreferrer",
        # cid: must survive the scheme check so the filter can point it at our copy.
        url_schemes=nh3.ALLOWED_URL_SCHEMES | {"cid"},
    )


class LoggedEmailBodyApi(APIView):
    OutputSerializer = record_shape("LoggedEmailBody", html=CharField, text=CharField)

    @activity_operation("logged_email_body", {200: OutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        email = logged_email_get_for_user(request.user, pk)
        html = body_html(email, "attachment-download-api")
        return Response({"id": email.pk, "html": html, "text": email.text_body})


class LoggedEmailThreadApi(APIView):
    class OutputSerializer(serializers.Serializer):
        class Meta:
            ref_name = "LoggedEmailThread"

        thread_id = serializers.IntegerField()
        emails = LoggedEmailSerializer(many=True)

    @activity_operation("logged_email_thread", {200: OutputSerializer})
    def get(self, request: Request, pk: int) -> Response:
        email = logged_email_get_for_user(request.user, pk)
        emails = thread_emails(email)
        return Response(
            {
                "thread_id": email.thread_id,
                "emails": LoggedEmailSerializer(emails, many=True).data,
            }
        )


class LoggedEmailAssociationsApi(APIView):
    """PUT replaces every kind (missing kinds become empty); PATCH only the kinds given."""

    InputSerializer = LogAssociationsInputSerializer

    @activity_operation(
        "logged_email_associations_replace", {200: AssociationsSerializer}
    )
    def put(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=False)

    @activity_operation(
        "logged_email_associations_update", {200: AssociationsSerializer}
    )
    def patch(self, request: Request, pk: int) -> Response:
        return self._update(request, pk, partial=True)

    def _update(self, request: Request, pk: int, *, partial: bool) -> Response:
        email = logged_email_get_for_user(request.user, pk, write=True)
        data = validated(self.InputSerializer, request.data)
        if not partial:
            data = {kind: data.get(kind, []) for kind in RECORD_MODELS}
        services.logged_email_associations_set(
            email=email, actor=caller(request), associations=data
        )
        return Response(association_ids(email))


class LoggedEmailPinApi(APIView):
    OutputSerializer = record_shape("LoggedEmailPin", is_pinned=BooleanField)

    @activity_operation("logged_email_pin", {200: OutputSerializer}, request=None)
    def post(self, request: Request, pk: int) -> Response:
        return self._pin(request, pk, pinned=True)

    @activity_operation("logged_email_unpin", {200: OutputSerializer}, request=None)
    def delete(self, request: Request, pk: int) -> Response:
        return self._pin(request, pk, pinned=False)

    def _pin(self, request: Request, pk: int, *, pinned: bool) -> Response:
        email = logged_email_get_for_user(request.user, pk, write=True)
        services.logged_email_pin(email=email, actor=caller(request), pinned=pinned)
        return Response({"id": email.pk, "is_pinned": email.is_pinned})


class AttachmentDownloadApi(APIView):
    """The attachment's bytes, for signed-in users only (L6)."""

    @activity_operation("attachment_download", {(200, "*/*"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> FileResponse:
        attachment = attachment_get_for_user(request.user, pk)
        return attachment_response(attachment)


def attachment_response(attachment: Any) -> FileResponse:
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.filename,
        content_type=attachment.content_type or "application/octet-stream",
    )


# -- the activity feed (V2) -------------------------------------------------------------


class FeedLinkSerializer(serializers.Serializer):
    url = serializers.CharField()
    clicks = serializers.IntegerField()


class FeedApi(APIView):
    """The caller's own tracked emails, newest first, with status and counts (V2);
    the same selector and filters as the /activity/ page."""

    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=list(FEED_STATES), required=False)
        since = serializers.DateField(required=False)
        until = serializers.DateField(required=False)
        contact = serializers.IntegerField(
            required=False, min_value=1, max_value=2**63 - 1
        )
        company = serializers.IntegerField(
            required=False, min_value=1, max_value=2**63 - 1
        )

    @extend_schema_serializer(component_name="FeedItem")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        subject = serializers.CharField()
        to = serializers.ListField(child=serializers.CharField())
        cc = serializers.ListField(child=serializers.CharField())
        anonymous = serializers.BooleanField()
        contact_id = serializers.IntegerField(allow_null=True)
        contact_name = serializers.CharField(allow_null=True)
        sent_at = serializers.DateTimeField(allow_null=True)
        created_at = serializers.DateTimeField()
        status = serializers.ChoiceField(choices=list(STATUS_LABELS))
        opens = serializers.IntegerField()
        clicks = serializers.IntegerField()
        last_event_at = serializers.DateTimeField(allow_null=True)
        links = FeedLinkSerializer(many=True)

    @list_operation(
        "feed_list",
        OutputSerializer,
        name="FeedItem",
        filters=[
            OpenApiParameter("state", str, enum=list(FEED_STATES)),
            OpenApiParameter("since", OpenApiTypes.DATE),
            OpenApiParameter("until", OpenApiTypes.DATE),
            OpenApiParameter("contact", int),
            OpenApiParameter("company", int),
        ],
    )
    def get(self, request: Request) -> Response:
        wanted = validated(self.FilterSerializer, request.query_params)
        rows = feed_for_user(caller(request), FeedFilters(**wanted))
        paginator = Pagination()
        page = paginator.paginate_queryset(rows, request, view=self) or []
        statuses = email_statuses(list(page))
        return paginator.get_paginated_response(
            [self._item(email, statuses[email.pk]) for email in page]
        )

    @staticmethod
    def _item(email: TrackedEmail, status: EmailStatus) -> dict[str, Any]:
        return {
            "id": email.pk,
            "subject": email.subject,
            "to": email.to,
            "cc": email.cc,
            "anonymous": email.is_anonymous,
            "contact_id": email.contact_id,
            "contact_name": str(email.contact) if email.contact else None,
            "sent_at": email.sent_at,
            "created_at": email.created_at,
            "status": status.status,
            "opens": status.opens,
            "clicks": status.clicks,
            "last_event_at": status.last_event_at,
            "links": [
                {"url": link.url, "clicks": link.clicks} for link in status.links
            ],
        }
