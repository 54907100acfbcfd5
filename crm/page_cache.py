"""The record pages (contact, company, deal, ticket) cached whole, under a digest of
everything they show (config.digest_cache).

One query, run on every request as a prepared statement, digests what a record page
reads: the record's row, its owner, its pipeline and stage, a contact's addresses, each
link of the side panel with the record at its other end (its owner, stage, addresses),
and the page of timeline cards (`activity.selectors.timeline_digest_query`). While the
digest is unchanged the page is served from the cache: the session, the signed-in user,
this query and one cache read, instead of the record's, links' and cards' queries and
the templates. A write by any path changes the digest, so the page is never stale.

Not cached: a page with flash messages waiting (they are shown once), and a page with
the search picker open (`?find=`: its results are other records, not in the digest).
A record the digest does not find renders as it would uncached (its 404).
"""

from __future__ import annotations

from functools import lru_cache

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser, User
from django.db import connection
from django.db.models import Field, Model
from django.http import HttpRequest

from activity.selectors import RECORD_MODELS, BadCursor, timeline_digest_query
from config.digest_cache import fetch_prepared
from crm.models import Contact, ContactEmail
from crm.selectors import association_model

# Each part is one JSON text of what the page shows; `rec.id` is the record's id.
# Table and column names come from the models (`_sql`), never from a request.
_RECORD = "SELECT to_json(r) FROM {table} r WHERE r.id = rec.id"
_OWNER = (
    "SELECT {user} FROM {table} r JOIN auth_user u ON u.id = r.owner_id"
    " WHERE r.id = rec.id"
)
_STAGE = (
    "SELECT json_build_array(to_json(p), to_json(s)) FROM {table} r"
    " JOIN crm_pipeline p ON p.id = r.pipeline_id"
    " JOIN crm_stage s ON s.id = r.stage_id WHERE r.id = rec.id"
)
_ADDRESSES = (
    "SELECT json_agg(to_json(x) ORDER BY x.id) FROM {emails} x"
    " WHERE x.contact_id = {contact}"
)
_LINKS = (
    "SELECT json_agg(json_build_array(to_json(l), to_json(o), {user}, {extra})"
    " ORDER BY l.id)"
    " FROM {links} l JOIN {table} o ON o.id = l.{other_column}"
    " LEFT JOIN auth_user u ON u.id = o.owner_id{joins}"
    " WHERE l.{column} = rec.id"
)
_PAGE = (
    "WITH rec AS (SELECT %s::bigint AS id)"
    " SELECT md5(concat(({record}), '#', ({timeline})))"
    " WHERE EXISTS (SELECT 1 FROM {table} r, rec WHERE r.id = rec.id)"
)
_USER = "json_build_array(u.id, u.username, u.first_name, u.last_name, u.email)"


def _sql(template: str, **names: str) -> str:
    return template.format(**names)


def _column(model: type[Model], name: str) -> str:
    field = model._meta.get_field(name)
    assert isinstance(field, Field)
    return str(field.column)


@lru_cache(maxsize=16)
def _record_sql(model: type[Model], linkable: tuple[str, ...]) -> str:
    """The record's side of the digest: one text, its parts joined."""
    kind = str(model._meta.model_name)
    table = model._meta.db_table
    emails = ContactEmail._meta.db_table
    parts = [_sql(_RECORD, table=table), _sql(_OWNER, table=table, user=_USER)]
    if _has_stage(model):
        parts.append(_sql(_STAGE, table=table))
    if model is Contact:
        parts.append(_sql(_ADDRESSES, emails=emails, contact="rec.id"))
    for other in linkable:
        link = association_model(kind, other)
        other_model = link._meta.get_field(other).related_model
        assert isinstance(other_model, type)
        extra, joins = "NULL", ""
        if _has_stage(other_model):
            extra, joins = "to_json(s)", " LEFT JOIN crm_stage s ON s.id = o.stage_id"
        if other_model is Contact:
            extra = "(" + _sql(_ADDRESSES, emails=emails, contact="o.id") + ")"
        parts.append(
            _sql(
                _LINKS,
                user=_USER,
                extra=extra,
                links=link._meta.db_table,
                table=other_model._meta.db_table,
                other_column=_column(link, other),
                joins=joins,
                column=_column(link, kind),
            )
        )
    joined = ", ".join(f"({part})" for part in parts)
    return _sql("SELECT concat_ws('#', {parts}) FROM rec", parts=joined)


def _has_stage(model: type[Model]) -> bool:
    return any(field.name == "stage" for field in model._meta.get_fields())


def record_page_digest(
    user: User | AnonymousUser,
    plural: str,
    pk: int,
    *,
    linkable: tuple[str, ...],
    cursor: str | None,
    size: int,
) -> str | None:
    """The digest of the page of the record `pk` of kind `plural` ("contacts", ...)
    as `user` sees it; None when the record is missing (or without
    PostgreSQL)."""
    if connection.vendor != "postgresql" or not -(2**63) <= pk < 2**63:
        return None
    record_model = RECORD_MODELS[plural]
    record = record_model(pk=pk)
    try:
        timeline_sql, timeline_params = timeline_digest_query(
            record, user, cursor=cursor, size=size
        )
    except BadCursor:
        return None
    sql = _sql(
        _PAGE,
        record=_record_sql(record_model, linkable),
        timeline=timeline_sql,
        table=record_model._meta.db_table,
    )
    row = fetch_prepared(sql, [pk, *timeline_params])
    return str(row[0]) if row else None


def cacheable(request: HttpRequest) -> bool:
    """A plain GET of the page: no picker search, no flash messages waiting (counted
    without marking them shown)."""
    return (
        request.method == "GET"
        and "find" not in request.GET
        and not len(messages.get_messages(request))
    )
