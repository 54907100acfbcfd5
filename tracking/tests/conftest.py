"""Helpers for the tracking tests: register emails through the service, drive the fast path."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis
from asgiref.sync import async_to_sync
from django.contrib.auth.models import User

from crm.models import Contact, ContactEmail, LegalBasis
from tracking import lists
from tracking.fastpath import TrackingApp
from tracking.models import TrackedEmail
from tracking.services import tracked_email_register

HTML = (
    "<html><body><p>Hello <b>Anna</b>,</p>"
    '<p><a href="https://acme.example/proposal?x=1&amp;y=2">the proposal</a> and '
    "<a href='http://acme.example/pricing'>pricing</a>, "
    '<a href="mailto:sales@beacon.example">mail us</a>, <a href="tel:+4612345">call</a>, '
    '<a href="#top">top</a>.</p><!-- keep me --></body></html>'
)


def make_contact(
    email: str, *, legal_basis: str = LegalBasis.CONSENT, **names: str
) -> Contact:
    contact = Contact.objects.create(legal_basis=legal_basis, **names)
    ContactEmail.objects.create(contact=contact, email=email, is_primary=True)
    return contact


def register(
    user: User,
    to: Sequence[str] = ("anna@acme.example",),
    *,
    cc: Sequence[str] = (),
    bcc: Sequence[str] = (),
    html: str = HTML,
    subject: str = "Proposal",
    track: bool = True,
) -> tuple[TrackedEmail, str]:
    registered = tracked_email_register(
        user=user,
        from_address=user.email,
        to=list(to),
        cc=list(cc),
        bcc=list(bcc),
        subject=subject,
        html=html,
        track=track,
    )
    return registered.email, registered.html


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Req:
    path: str
    method: str = "GET"
    headers: dict[str, str] | None = None
    ip: str = "198.51.100.7"
    query: str = ""


def _scope(req: Req) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": req.method,
        "scheme": "http",
        "path": req.path,
        "raw_path": req.path.encode(),
        "query_string": req.query.encode(),
        "headers": [
            (name.lower().encode(), value.encode("latin-1"))
            for name, value in (req.headers or {}).items()
        ],
        "client": (req.ip, 50000),
        "server": ("127.0.0.1", 8000),
    }


async def _one(app: Any, req: Req) -> Reply:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    await app(_scope(req), receive, send)
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return Reply(
        start["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])
    )


def drive(app: Any, requests: Sequence[Req]) -> list[Reply]:
    """Run the requests through the ASGI app in this thread's event loop, in order."""

    async def run_all() -> list[Reply]:
        return [await _one(app, req) for req in requests]

    return async_to_sync(run_all)()


@pytest.fixture
def embedded_app(settings: Any) -> TrackingApp:
    """The fast path in embedded mode: hits are written to the database."""
    settings.REDIS_URL = ""
    return TrackingApp()


@pytest.fixture
def stream_name(settings: Any, redis_url: str) -> Iterator[str]:
    """A stream of this test's own, deleted afterwards."""
    name = f"test:hits:{uuid.uuid4().hex}"
    settings.TRACKING_STREAM = name
    yield name
    redis.Redis.from_url(redis_url).delete(name, f"{name}:hits")


def later(seconds: float) -> float:
    return time.time() + seconds


def raw_hit(
    email: TrackedEmail,
    *,
    link_id: int | None = None,
    at: float | None = None,
    ip: str = "198.51.100.7",
    ua: str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0",
    method: str = "GET",
    **extra: str,
) -> dict[str, str]:
    """A hit as the fast path puts it on the stream (see tracking.fastpath.hit_fields)."""
    sent = (email.sent_at or email.created_at).timestamp()
    return {
        "h": uuid.uuid4().hex,
        "k": "c" if link_id else "o",
        "e": str(email.pk),
        "l": str(link_id or ""),
        "t": repr(at if at is not None else sent + 120),
        "ip": ip,
        "ua": ua,
        "m": method,
        **extra,
    }


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: Any) -> Iterator[Path]:
    """The verdict lists as copies of this test's own, to change at will."""
    for name in lists.LIST_FILES.values():
        shutil.copy(lists.DATA_DIR / name, tmp_path / name)
    monkeypatch.setattr(lists, "DATA_DIR", tmp_path)
    lists.reload_lists()
    yield tmp_path
    monkeypatch.undo()
    lists.reload_lists()
