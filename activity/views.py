"""The rep's pages over logged and tracked email: timelines, cards, the email page and
the activity feed (V1, V2, V4). Each view renders the full page, or, asked with the
`Beacon-Fragment: 1` header, the partial its in-place update replaces."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Model
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
)
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_GET, require_POST

from activity import services
from activity.api import attachment_response, body_html
from activity.models import LoggedEmail
from activity.selectors import (
    RECORD_MODELS,
    UNLINKED_SHOWN,
    BadCursor,
    association_choices,
    attachment_get_for_user,
    logged_email_get_for_user,
    logged_unlinked_for_user,
    record_get,
    thread_emails,
    timeline_page,
)
from activity.timeline_cache import cached_timeline
from config.api import DomainError, caller
from tracking.models import COUNTED_VERDICTS, TrackedEmail, Verdict
from tracking.selectors import (
    FEED_STATES,
    EmailStatus,
    FeedFilters,
    email_statuses,
    events_for_page,
    feed_companies,
    feed_contacts,
    feed_for_user,
    feed_row_get_for_user,
    tracked_email_get_for_user,
    tracked_email_summary,
)

View = Callable[..., HttpResponseBase]
FRAGMENT_HEADER = "Beacon-Fragment"
# Cards per timeline page: a screenful and then some; "Older" brings the next ones. The
# API's pages (25 by default) come from the same selector.
TIMELINE_CARDS = 10
RECORD_PAGES = {
    "contacts": "contact-detail",
    "companies": "company-detail",
    "deals": "deal-detail",
    "tickets": "ticket-detail",
}
FEED_PAGE_SIZE = 25


def page_errors(view: View) -> View:
    """A broken rule (activity.services, the access helpers) as a page with its status
    and sentence, not a 500: 403 for someone else's email, 400 for a missing record."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            return view(request, *args, **kwargs)
        except DomainError as error:
            return render(
                request,
                "activity/error.html",
                {"detail": error.detail, "code": error.code},
                status=error.status_code,
            )

    return wrapped


def wants_fragment(request: HttpRequest) -> bool:
    return request.headers.get(FRAGMENT_HEADER) == "1"


def _next_url(request: HttpRequest, fallback: str) -> str:
    """Where a form sends the rep back: `next` when it is one of our own pages."""
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return fallback


# -- timeline cards -----------------------------------------------------------------------


def reply_mailto(email: LoggedEmail, user: Any) -> str:
    """mailto: to the thread's other side, with "Re:" subject, until inboxes connect."""
    if email.sender_id == user.pk:
        to, cc = list(email.to), list(email.cc)
    else:
        to, cc = [email.from_address], [a for a in email.cc if a != user.email]
    subject = email.subject
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    query = f"subject={quote(subject)}"
    if cc:
        query += f"&cc={quote(','.join(cc))}"
    return f"mailto:{quote(','.join(to), safe='@,')}?{query}"


def timeline_cards(
    request: HttpRequest, emails: list[LoggedEmail], *, next_url: str
) -> list[dict[str, Any]]:
    """What each card shows; tracking status only to the email's sender (V2)."""
    own_tracked = [
        email.tracked_email
        for email in emails
        if email.tracked_email is not None
        and email.tracked_email.sender_id == request.user.pk
    ]
    statuses = email_statuses(own_tracked) if own_tracked else {}
    return [
        {
            "email": email,
            "status": statuses.get(email.tracked_email_id or 0),
            "can_edit": email.sender_id == request.user.pk or request.user.is_superuser,
            "mailto": reply_mailto(email, request.user),
            # Prefetched with the timeline (the API shows them as ids).
            "associations": sum(
                len(getattr(email, kind).all()) for kind in RECORD_MODELS
            ),
            "next": next_url,
        }
        for email in emails
    ]


def timeline_context(
    request: HttpRequest, record: Model, kind: str, *, csrf_token: str | None = None
) -> dict[str, Any]:
    """The record page's timeline: the page after `?cursor=` (first without one), its
    cards' HTML from activity.timeline_cache, with `csrf_token` in its forms (this
    response's token unless given: a page cached whole gives its placeholder)."""
    cursor = request.GET.get("cursor") or None
    page_url = reverse(RECORD_PAGES[kind], args=[record.pk])
    timeline_url = reverse("timeline-page", args=[kind, record.pk])

    def render_page(csrf_token: str) -> str:
        emails, next_cursor = timeline_page(record, cursor=cursor, size=TIMELINE_CARDS)
        context = {
            "timeline_cards": timeline_cards(request, emails, next_url=page_url),
            "timeline_next": next_cursor,
            "timeline_url": timeline_url,
            "timeline_first": cursor is None,
            "csrf_token": csrf_token,
        }
        return render_to_string("activity/_timeline_page.html", context, request)

    try:
        html = cached_timeline(
            request,
            record,
            kind,
            cursor=cursor,
            size=TIMELINE_CARDS,
            render=render_page,
            csrf_token=csrf_token,
        )
    except BadCursor as exc:
        raise Http404("Unknown cursor.") from exc
    return {
        "timeline_html": mark_safe(html),  # noqa: S308 - our own template's output
        "timeline_url": timeline_url,
        "timeline_first": cursor is None,
    }


@require_GET
@login_required
@page_errors
def timeline_fragment(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A page of cards for "Older" (in place) or for a refresh after a pin."""
    if kind not in RECORD_MODELS:
        raise Http404("No such record kind.")
    record = record_get(kind, pk)
    context = timeline_context(request, record, kind)
    if wants_fragment(request):
        return HttpResponse(context["timeline_html"])
    return render(request, "activity/timeline_page.html", {**context, "record": record})


def _card_or_back(request: HttpRequest, email: LoggedEmail) -> HttpResponse:
    if wants_fragment(request):
        email = logged_email_get_for_user(request.user, email.pk, details=True)
        return render(
            request,
            "activity/_email_card.html",
            {
                "card": timeline_cards(
                    request, [email], next_url=_next_url(request, "")
                )[0]
            },
        )
    return redirect(_next_url(request, reverse("logged-email-thread", args=[email.pk])))


@require_POST
@login_required
@page_errors
def logged_email_pin(request: HttpRequest, pk: int) -> HttpResponse:
    email = logged_email_get_for_user(request.user, pk, write=True)
    pinned = request.POST.get("pinned") == "1"
    services.logged_email_pin(email=email, actor=caller(request), pinned=pinned)
    return _card_or_back(request, email)


@login_required
@page_errors
def logged_email_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET or an unconfirmed POST asks first; a confirmed POST deletes (kept with who
    and when, as the API does)."""
    email = logged_email_get_for_user(request.user, pk, write=True)
    if request.method == "POST" and request.POST.get("confirmed") == "1":
        services.logged_email_delete(email=email, actor=caller(request))
        if wants_fragment(request):
            return HttpResponse(status=204)
        messages.success(request, f"Deleted “{email.subject or '(no subject)'}”.")
        return redirect(_next_url(request, reverse("home")))
    return render(
        request,
        "activity/logged_email_delete.html",
        {"email": email, "next": _next_url(request, "")},
    )


@login_required
@page_errors
def logged_email_associations(request: HttpRequest, pk: int) -> HttpResponse:
    """The search picker over contacts, companies, deals and tickets."""
    email = logged_email_get_for_user(
        request.user, pk, write=request.method == "POST", details=True
    )
    if request.method == "POST":
        chosen = {kind: _ids(request.POST.getlist(kind)) for kind in RECORD_MODELS}
        services.logged_email_associations_set(
            email=email, actor=caller(request), associations=chosen
        )
        messages.success(request, "Associations saved.")
        return redirect(_next_url(request, reverse("logged-email-thread", args=[pk])))
    q = request.GET.get("q", "").strip()
    context = {
        "email": email,
        "q": q,
        "choices": association_choices(email, q, request.user),
        "next": _next_url(request, ""),
        "can_edit": email.sender_id == request.user.pk or request.user.is_superuser,
    }
    if wants_fragment(request):
        return render(request, "activity/_association_results.html", context)
    return render(request, "activity/logged_email_associations.html", context)


def _ids(values: list[str]) -> list[int]:
    try:
        return sorted({int(value) for value in values})
    except ValueError as exc:
        raise Http404("Not a record id.") from exc


@require_GET
@login_required
@page_errors
def logged_email_details(request: HttpRequest, pk: int) -> HttpResponse:
    """From, to, cc, date; for its sender, the tracking events by verdict with reasons."""
    email = logged_email_get_for_user(request.user, pk, details=True)
    tracked = email.tracked_email
    by_verdict: list[dict[str, Any]] = []
    if tracked is not None and tracked.sender_id == request.user.pk:
        events, _ = events_for_page(tracked, show_all=True)
        for verdict in Verdict:
            rows = [event for event in events if event.verdict == verdict]
            if rows:
                by_verdict.append(
                    {
                        "verdict": verdict,
                        "counted": verdict in COUNTED_VERDICTS,
                        "events": rows,
                    }
                )
    context = {
        "email": email,
        "tracked": tracked
        if tracked and tracked.sender_id == request.user.pk
        else None,
        "by_verdict": by_verdict,
    }
    if wants_fragment(request):
        return render(request, "activity/_email_details.html", context)
    return render(request, "activity/logged_email_details.html", context)


# What the expanded body may load: nothing but our own attachment images (T10).
def body_policy(request: HttpRequest) -> str:
    attachments = request.build_absolute_uri(reverse("attachment-download", args=[0]))
    prefix = attachments.rsplit("0/", 1)[0]
    return (
        f"default-src 'none'; img-src {prefix} data:; style-src 'unsafe-inline'; "
        "form-action 'none'; base-uri 'none'; frame-ancestors 'self'; "
        "sandbox allow-popups allow-popups-to-escape-sandbox allow-same-origin"
    )


@require_GET
@login_required
@page_errors
@xframe_options_sameorigin
def logged_email_body(request: HttpRequest, pk: int) -> HttpResponse:
    """The sanitised body as a document of its own, for the card's sandboxed frame."""
    email = logged_email_get_for_user(request.user, pk)
    html = body_html(email, "attachment-download")
    response = render(
        request, "activity/logged_email_body.html", {"email": email, "html": html}
    )
    response["Content-Security-Policy"] = body_policy(request)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@login_required
@page_errors
def logged_email_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The expanded body on a page of its own (the card's Expand without script)."""
    email = logged_email_get_for_user(request.user, pk)
    return render(request, "activity/logged_email_view.html", {"email": email})


@require_GET
@login_required
@page_errors
def logged_email_thread(request: HttpRequest, pk: int) -> HttpResponse:
    email = logged_email_get_for_user(request.user, pk)
    emails = list(thread_emails(email))
    return render(
        request,
        "activity/logged_email_thread.html",
        {
            "email": email,
            "cards": timeline_cards(request, emails, next_url=request.path),
        },
    )


@require_GET
@login_required
@page_errors
def attachment_download(request: HttpRequest, pk: int) -> FileResponse:
    """An attachment of a logged email, for signed-in users of the web pages (L6)."""
    return attachment_response(attachment_get_for_user(request.user, pk))


# -- the email page (V4) --------------------------------------------------------------------


@require_GET
@login_required
@page_errors
def email_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A tracked email for its sender: recipients and their decisions, status, counts,
    clicks per link and the events, counted first; `?all=1` adds every other hit."""
    email = tracked_email_get_for_user(request.user, pk)
    show_all = request.GET.get("all") == "1"
    events, hidden = events_for_page(email, show_all=show_all)
    context = {
        "email": email,
        "summary": tracked_email_summary(email),
        "events": events,
        "hidden": hidden,
        "show_all": show_all,
        "logged_copy": LoggedEmail.objects.visible()
        .filter(tracked_email=email)
        .only("id")
        .first(),
    }
    if wants_fragment(request):
        return render(request, "activity/_email_live.html", context)
    return render(request, "activity/email_page.html", context)


# -- the activity feed (V2) ------------------------------------------------------------------


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _int(value: str) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def feed_filters(request: HttpRequest) -> FeedFilters:
    """Unknown or malformed values are ignored, as a hand-edited URL deserves."""
    state = request.GET.get("state", "")
    return FeedFilters(
        state=state if state in FEED_STATES else "",
        since=_date(request.GET.get("since", "")),
        until=_date(request.GET.get("until", "")),
        contact=_int(request.GET.get("contact", "")),
        company=_int(request.GET.get("company", "")),
    )


def feed_rows(emails: list[TrackedEmail]) -> list[dict[str, Any]]:
    statuses: dict[int, EmailStatus] = email_statuses(emails) if emails else {}
    return [{"email": email, "status": statuses[email.pk]} for email in emails]


@require_GET
@login_required
@page_errors
def feed(request: HttpRequest) -> HttpResponse:
    """The user's own tracked emails with status and last activity, filterable."""
    filters = feed_filters(request)
    page = Paginator(feed_for_user(request.user, filters), FEED_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "rows": feed_rows(list(page.object_list)),
        "filters": filters,
        "states": FEED_STATES,
        "contacts": feed_contacts(request.user),
        "companies": feed_companies(request.user),
        "filtered": any(value not in ("", None) for value in vars(filters).values()),
        "unlinked": logged_unlinked_for_user(request.user)[:UNLINKED_SHOWN],
    }
    return render(request, "activity/feed.html", context)


@require_GET
@login_required
@page_errors
def feed_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the feed, re-rendered when an event arrives for it."""
    email = feed_row_get_for_user(request.user, pk)
    return render(request, "activity/_feed_row.html", {"row": feed_rows([email])[0]})
