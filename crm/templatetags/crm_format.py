"""Template filters for CRM values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.conf import settings

from crm import selectors

register = template.Library()


@register.filter
def money(amount: Decimal | None) -> str:
    """`12500.00` → `12,500.00 USD`: the amount with the account's currency (or "—")."""
    if amount is None:
        return "—"
    return f"{amount:,.2f} {settings.CURRENCY}"


@register.filter
def writable_by(record: Any, user: Any) -> bool:
    """The API's write rule for one record (crm.selectors.record_writable_by)."""
    return selectors.record_writable_by(user, record)


@register.simple_tag(takes_context=True)
def page_query(context: Any) -> str:
    """The page's query string without `page`, ending in `&` when not empty: the
    pagination links keep the search and filters they were reached with."""
    query = context["request"].GET.copy()
    query.pop("page", None)
    return f"{query.urlencode()}&" if query else ""
