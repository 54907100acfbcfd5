"""Server-rendered record pages: lists with search, one page per record, the forms that
create, edit, archive and restore records and link them, and the deal and ticket boards.

Every write goes through the service the API calls, after the access helper the API
asks (`selectors.<kind>_get_for_user(..., write=True)`), so a page refuses exactly what
the API refuses. The helper's `NotAllowed` becomes a 403 page here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
    JsonResponse,
)
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from activity.views import TIMELINE_CARDS, timeline_context
from config.api import DomainError, NotAllowed
from config.digest_cache import cached_html
from crm import kinds, page_cache, selectors, services
from crm.forms import (
    CompanyForm,
    ContactForm,
    DealForm,
    MoveForm,
    RecordForm,
    TicketForm,
    add_domain_error,
)
from crm.kinds import Kind
from crm.models import PipelineKind

PAGE_SIZE = 25
PICKER_SIZE = 8


# The kinds of record (crm/kinds.py: the selectors and services the API uses too) and
# the form each kind's pages edit it with.
KINDS: dict[str, Kind] = {
    kind.name: kind for kind in (kinds.CONTACT, kinds.COMPANY, kinds.DEAL, kinds.TICKET)
}
FORMS: dict[str, type[RecordForm]] = {
    "contact": ContactForm,
    "company": CompanyForm,
    "deal": DealForm,
    "ticket": TicketForm,
}
# The kinds a record page offers to link, as the API's association endpoints allow (R4).
LINKABLE: dict[str, tuple[str, ...]] = {
    "contact": ("company", "deal", "ticket"),
    "company": ("contact", "deal", "ticket"),
    "deal": ("contact", "company"),
    "ticket": ("contact", "company"),
}


def _kind(name: str) -> Kind:
    try:
        return KINDS[name]
    except KeyError:
        raise Http404 from None


def _get(kind: Kind, request: HttpRequest, pk: Any, *, write: bool = False) -> Any:
    """The API's access helper; its refusal is this page's 403."""
    try:
        return kind.get_for_user(request.user, pk, write=write)
    except NotAllowed as exc:
        raise PermissionDenied(exc.detail) from exc


def _page(request: HttpRequest, items: QuerySet[Any]) -> Page[Any]:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _search(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()


@login_required
def record_list(request: HttpRequest, kind: str) -> HttpResponse:
    """The records in use, searched; `?archived=1` lists the archived ones instead."""
    spec = _kind(kind)
    q = _search(request)
    archived = request.GET.get("archived") == "1"
    page = _page(request, spec.search(q=q, archived=archived))
    context = {"page": page, "q": q, "archived": archived, "plural": spec.plural}
    return render(request, f"crm/{kind}_list.html", context)


# Record pages.


def _picker(request: HttpRequest, kind: str) -> dict[str, Any]:
    """The search picker: `?find=<kind>&q=<words>` lists a few records to link."""
    find = request.GET.get("find", "")
    q = _search(request)
    if find not in LINKABLE[kind] or not q:
        return {"find": find if find in LINKABLE[kind] else "", "q": q}
    return {
        "find": find,
        "q": q,
        "results": list(KINDS[find].search(q=q)[:PICKER_SIZE]),
    }


def _detail(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """The record's page, served whole from crm.page_cache while nothing it shows
    changed."""
    spec = KINDS[kind]

    def render_page(csrf_token: str) -> str:
        record = _get(spec, request, pk)
        context: dict[str, Any] = {
            kind: record,
            "record": record,
            "kind": kind,
            "linkable": LINKABLE[kind],
            "can_edit": selectors.record_writable_by(request.user, record),
            "picker": _picker(request, kind),
            "csrf_token": csrf_token,
        }
        for other in LINKABLE[kind]:
            context[f"{other}_links"] = selectors.association_links(record, other)
        if kind == "contact":
            context["primary_company"] = selectors.contact_primary_company(record)
        context.update(
            timeline_context(request, record, spec.plural, csrf_token=csrf_token)
        )
        return render_to_string(f"crm/{kind}_detail.html", context, request)

    if not page_cache.cacheable(request):
        return HttpResponse(render_page(get_token(request)))
    cursor = request.GET.get("cursor") or None
    html = cached_html(
        request,
        ("record-page", kind, str(pk)),
        digest=lambda: page_cache.record_page_digest(
            request.user,
            spec.plural,
            pk,
            linkable=LINKABLE[kind],
            cursor=cursor,
            size=TIMELINE_CARDS,
        ),
        render=render_page,
    )
    return HttpResponse(html)


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, "contact", pk)


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, "company", pk)


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, "deal", pk)


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, "ticket", pk)


# Create, edit, delete.


def _form_page(
    request: HttpRequest, kind: Kind, form: forms.Form, record: Any = None
) -> HttpResponse:
    context = {"kind": kind.name, "plural": kind.plural, "form": form, "record": record}
    status = 400 if form.is_bound and form.errors else 200
    return render(request, "crm/record_form.html", context, status=status)


@login_required
def record_create(request: HttpRequest, kind: str) -> HttpResponse:
    spec, form_class = _kind(kind), FORMS[kind]
    if request.method != "POST":
        return _form_page(request, spec, form_class(initial={"owner": request.user.pk}))
    form = form_class(request.POST)
    if form.is_valid():
        try:
            record = spec.create(**form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"{str(record)!r} created.")
            return redirect(f"{kind}-detail", record.pk)
    return _form_page(request, spec, form)


@login_required
def record_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    spec = _kind(kind)
    record = _get(spec, request, pk, write=True)
    if request.method != "POST":
        form = FORMS[kind](initial=FORMS[kind].initial_for(record))
        return _form_page(request, spec, form, record)
    form = FORMS[kind](request.POST)
    if form.is_valid():
        try:
            spec.update(record, dict(form.cleaned_data))
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect(f"{kind}-detail", pk)
    return _form_page(request, spec, form, record)


@login_required
def record_archive(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """A GET asks first; a POST archives (the API's access helper decides who may, as
    for any edit): the record leaves lists, search, pickers and boards."""
    spec = _kind(kind)
    record = _get(spec, request, pk, write=True)
    if request.method != "POST":
        context = {"kind": kind, "plural": spec.plural, "record": record}
        return render(request, "crm/record_archive.html", context)
    services.record_archive(record=record, archived=True)
    messages.success(request, f"{str(record)!r} archived. Restore it from its page.")
    return redirect(f"{kind}-list")


@login_required
@require_POST
def record_restore(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    record = _get(_kind(kind), request, pk, write=True)
    services.record_archive(record=record, archived=False)
    messages.success(request, f"{str(record)!r} restored.")
    return redirect(f"{kind}-detail", pk)


@login_required
@require_POST
def contact_primary_email(request: HttpRequest, pk: int) -> HttpResponse:
    """Makes one of the contact's addresses its primary (R1)."""
    contact = _get(KINDS["contact"], request, pk, write=True)
    email = request.POST.get("email", "").strip().lower()
    emails = [item.email for item in contact.emails.all()]
    if email not in emails:
        return HttpResponseBadRequest("Not one of this contact's addresses.")
    services.contact_update(
        contact=contact, data={"emails": [email, *(e for e in emails if e != email)]}
    )
    messages.success(request, f"{email} is now the primary address.")
    return redirect("contact-detail", pk)


# Links between records (R4). The API's rule: changing a link needs write access to
# both records it links (crm.selectors.record_check_writable, through the access helper).


def _sides(
    request: HttpRequest, kind: str, pk: Any, other: str, other_pk: Any
) -> tuple[str, Any, str, Any]:
    if other not in LINKABLE.get(kind, ()):
        raise Http404
    this_is_left = kind == "contact" or (kind == "company" and other != "contact")
    left_kind, right_kind = (kind, other) if this_is_left else (other, kind)
    left_pk, right_pk = (pk, other_pk) if this_is_left else (other_pk, pk)
    left = _get(KINDS[left_kind], request, left_pk, write=True)
    return left_kind, left, right_kind, right_pk


@login_required
@require_POST
def record_link(request: HttpRequest, kind: str, pk: int, other: str) -> HttpResponse:
    other_pk = request.POST.get("other_id", "")
    if not other_pk.isdigit():
        return HttpResponseBadRequest("Choose a record to link.")
    left_kind, left, right_kind, right_pk = _sides(request, kind, pk, other, other_pk)
    right = _get(KINDS[right_kind], request, right_pk, write=True)
    if (left_kind, right_kind) == ("contact", "company"):
        primary = request.POST.get("primary") == "1"
        services.contact_company_associate(contact=left, company=right, primary=primary)
    else:
        services.association_create(left=left, right=right)
    messages.success(request, "Linked.")
    return redirect(f"{kind}-detail", pk)


@login_required
@require_POST
def record_unlink(
    request: HttpRequest, kind: str, pk: int, other: str, other_pk: int
) -> HttpResponse:
    _, left, right_kind, right_pk = _sides(request, kind, pk, other, other_pk)
    link = selectors.association_link_get(left, right_kind, right_pk)
    _get(KINDS[right_kind], request, right_pk, write=True)
    services.association_delete(link=link)
    messages.success(request, "Unlinked.")
    return redirect(f"{kind}-detail", pk)


# Boards: a pipeline's deals or tickets in one column per stage (V5).


def _board(request: HttpRequest, kind: str) -> HttpResponse:
    pipelines = list(selectors.pipeline_list(kind=kind))
    wanted = request.GET.get("pipeline", "")
    pipeline = next((p for p in pipelines if str(p.pk) == wanted), None)
    if pipeline is None and pipelines:
        pipeline = pipelines[0]
    columns = selectors.board_columns(pipeline, kind) if pipeline else []
    context = {
        "kind": kind,
        "plural": KINDS[kind].plural,
        "pipelines": pipelines,
        "pipeline": pipeline,
        "columns": columns,
    }
    return render(request, "crm/board.html", context)


@login_required
def deal_board(request: HttpRequest) -> HttpResponse:
    return _board(request, PipelineKind.DEAL)


@login_required
def ticket_board(request: HttpRequest) -> HttpResponse:
    return _board(request, PipelineKind.TICKET)


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


@login_required
@require_POST
def record_move(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    """Moves a deal or ticket to another stage; answers JSON to the board's script and
    a redirect back to the board to a plain form."""
    if kind not in ("deal", "ticket"):
        raise Http404
    record = _get(KINDS[kind], request, pk, write=True)
    form = MoveForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.record_update(record=record, data=dict(form.cleaned_data))
        except DomainError as exc:
            error = "That stage is not part of this pipeline."
            code = exc.code
    else:
        error, code = "Choose a stage.", "validation_error"
    if _wants_json(request):
        if error:
            return JsonResponse({"error": code, "detail": error}, status=400)
        return JsonResponse({"id": record.pk, "stage": record.stage_id})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{record} moved to {record.stage.name}.")
    board = reverse(f"{kind}-board")
    return HttpResponseRedirect(f"{board}?pipeline={record.pipeline_id}")
