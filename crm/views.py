"""Server-rendered record pages: lists with search, and one page per record."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from activity.views import timeline_context
from crm import selectors

PAGE_SIZE = 25


def _page(request: HttpRequest, items: QuerySet[Any]) -> Page[Any]:
    return Paginator(items, PAGE_SIZE).get_page(request.GET.get("page"))


def _search(request: HttpRequest) -> str:
    return request.GET.get("q", "").strip()


@login_required
def contact_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    page = _page(request, selectors.contact_list(q=q))
    return render(request, "crm/contact_list.html", {"page": page, "q": q})


@login_required
def company_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    page = _page(request, selectors.company_list(q=q))
    return render(request, "crm/company_list.html", {"page": page, "q": q})


@login_required
def deal_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    page = _page(request, selectors.deal_list(q=q))
    return render(request, "crm/deal_list.html", {"page": page, "q": q})


@login_required
def ticket_list(request: HttpRequest) -> HttpResponse:
    q = _search(request)
    page = _page(request, selectors.ticket_list(q=q))
    return render(request, "crm/ticket_list.html", {"page": page, "q": q})


@login_required
def contact_detail(request: HttpRequest, pk: int) -> HttpResponse:
    contact = selectors.contact_get_for_user(request.user, pk)
    context = {
        "contact": contact,
        "primary_company": selectors.contact_primary_company(contact),
        "company_links": selectors.association_links(contact, "company"),
        "deal_links": selectors.association_links(contact, "deal"),
        "ticket_links": selectors.association_links(contact, "ticket"),
        "can_edit": selectors.record_writable_by(request.user, contact),
        **timeline_context(request, contact, "contacts"),
    }
    return render(request, "crm/contact_detail.html", context)


@login_required
def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = selectors.company_get_for_user(request.user, pk)
    context = {
        "company": company,
        "contact_links": selectors.association_links(company, "contact"),
        "deal_links": selectors.association_links(company, "deal"),
        "ticket_links": selectors.association_links(company, "ticket"),
        "can_edit": selectors.record_writable_by(request.user, company),
        **timeline_context(request, company, "companies"),
    }
    return render(request, "crm/company_detail.html", context)


@login_required
def deal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deal = selectors.deal_get_for_user(request.user, pk)
    context = {
        "deal": deal,
        "contact_links": selectors.association_links(deal, "contact"),
        "company_links": selectors.association_links(deal, "company"),
        "can_edit": selectors.record_writable_by(request.user, deal),
        **timeline_context(request, deal, "deals"),
    }
    return render(request, "crm/deal_detail.html", context)


@login_required
def ticket_detail(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = selectors.ticket_get_for_user(request.user, pk)
    context = {
        "ticket": ticket,
        "contact_links": selectors.association_links(ticket, "contact"),
        "company_links": selectors.association_links(ticket, "company"),
        "can_edit": selectors.record_writable_by(request.user, ticket),
        **timeline_context(request, ticket, "tickets"),
    }
    return render(request, "crm/ticket_detail.html", context)
