"""`manage.py tracking_status` and its admin page: what waits where, read from the real
stream, this host's spill journals and the inbound table."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import redis
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.test import Client

from activity.models import InboundEmail, InboundRoute, InboundStatus
from conftest import make_user
from tracking.fastpath import stream_entry
from tracking.models import TrackedEmail
from tracking.stream import StreamIngestor
from tracking.tests.conftest import raw_hit, register


def _fill(
    settings: Any, tmp_path: Path, stream_name: str, redis_url: str, email: TrackedEmail
) -> None:
    """Three entries on the stream: one stored, one read and pending, one unread; a
    journal of a dead worker; inbound mail waiting."""
    settings.TRACKING_SPILL_DIR = str(tmp_path)
    client = redis.Redis.from_url(redis_url)
    for n in range(3):
        entry = stream_entry([raw_hit(email, ip=f"203.0.113.{n + 1}")])
        client.xadd(stream_name, entry)  # type: ignore[arg-type]
    ingestor = StreamIngestor(redis_url=redis_url, consumer="ingest-a", batch=1)
    ingestor.ensure_group()
    ingestor.run_once()  # stored and acknowledged
    client.xreadgroup(ingestor.group, "ingest-b", {stream_name: ">"}, count=1)
    (tmp_path / "web-1-abc.journal").write_bytes(
        orjson.dumps([raw_hit(email), raw_hit(email)]) + b"\n"
    )
    for status, reason, attempts in [
        (InboundStatus.RECEIVED, "", 0),
        (InboundStatus.RECEIVED, "database_unavailable", 2),
        (InboundStatus.LOGGED, "", 1),
    ]:
        InboundEmail.objects.create(
            route=InboundRoute.API, status=status, reason=reason, attempts=attempts
        )


def test_the_status_shows_the_stream_the_consumers_the_journals_and_the_mail(
    settings: Any, tmp_path: Path, stream_name: str, redis_url: str, alice: User
) -> None:
    email, _ = register(alice)
    _fill(settings, tmp_path, stream_name, redis_url, email)
    out = StringIO()
    call_command("tracking_status", "--json", stdout=out)
    status = json.loads(out.getvalue())
    assert status["redis_error"] == ""
    assert (status["stream_length"], status["undelivered"]) == (2, 1)
    assert status["pending"] == {"ingest-b": 1}
    assert 0 <= status["oldest_pending_age_s"] < 60
    assert list(status["last_writes"]) == ["ingest-a"]
    assert status["counters"] == {"hits": 0, "lost": 0, "refused": 0}
    [journal] = status["journals"]
    assert (journal["hits"], journal["batches"], journal["active"]) == (2, 1, False)
    waiting = {
        (r["status"], r["reason"]): r["count"] for r in status["inbound_waiting"]
    }
    assert waiting == {("received", ""): 1, ("received", "database_unavailable"): 1}
    text = StringIO()
    call_command("tracking_status", stdout=text)
    assert "ingest-b: 1" in text.getvalue()
    assert "2 hits in 1 batches" in text.getvalue()


def test_with_redis_unreachable_the_status_says_so_and_shows_the_rest(
    settings: Any, tmp_path: Path, alice: User
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.TRACKING_SPILL_DIR = str(tmp_path)
    out = StringIO()
    call_command("tracking_status", stdout=out)
    assert "Redis: ConnectionError" in out.getvalue()
    assert "spill journals (this host): none" in out.getvalue()


def test_the_admin_page_shows_the_status_to_those_who_may_see_events_only(
    settings: Any,
    tmp_path: Path,
    stream_name: str,
    redis_url: str,
    alice: User,
    admin_user: User,
) -> None:
    email, _ = register(alice)
    _fill(settings, tmp_path, stream_name, redis_url, email)
    url = "/admin/tracking/trackingevent/pipeline-status/"
    browser = Client()
    browser.force_login(admin_user)
    page = browser.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "ingest-b" in html and "web-1-abc.journal" in html
    assert "database_unavailable" in html
    listing = browser.get("/admin/tracking/trackingevent/").content.decode()
    assert url in listing  # linked from the events' list

    browser.force_login(alice)  # not staff: the admin's sign-in page
    assert browser.get(url).status_code == 302
    staff = make_user("carol")
    staff.is_staff = True
    staff.save()
    browser.force_login(staff)  # staff, but may not view events
    assert browser.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_trackingevent"))
    staff = User.objects.get(pk=staff.pk)
    browser.force_login(staff)
    assert browser.get(url).status_code == 200
