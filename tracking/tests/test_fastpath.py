from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from tracking import tokens
from tracking.fastpath import GIF, TrackingApp
from tracking.models import Kind, TrackedEmail, TrackingEvent, Verdict
from tracking.spill import journal_files
from tracking.tests.conftest import Req, drive, register

NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"


def _pixel_path(email: TrackedEmail) -> str:
    return f"/t/o/{tokens.open_token(email.pk)}.gif"


def test_the_pixel_answers_the_gif_and_records_the_open(
    embedded_app: TrackingApp, alice: User
) -> None:
    email, _ = register(alice)
    ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
    [reply] = drive(embedded_app, [Req(_pixel_path(email), headers={"User-Agent": ua})])
    assert reply.status == 200 and reply.body == GIF and len(GIF) == 43
    assert reply.headers["content-type"] == "image/gif"
    assert reply.headers["cache-control"] == NO_STORE
    event = TrackingEvent.objects.get()
    assert (event.email, event.kind, event.verdict, event.method) == (
        email, Kind.OPEN, Verdict.HUMAN, "GET",
    )  # fmt: skip
    assert (event.ip, event.user_agent, event.contact_id) == ("198.51.100.7", ua, None)


def test_a_tampered_pixel_token_records_nothing_and_still_returns_the_image(
    embedded_app: TrackingApp, alice: User
) -> None:
    email, _ = register(alice)
    token = tokens.open_token(email.pk)
    bad = [token[:-1] + ("x" if token[-1] != "x" else "y"), token[:-2], "garbage", ""]
    bad.append(tokens.open_token(email.pk + 1000)[:-1] + "A")
    replies = drive(embedded_app, [Req(f"/t/o/{t}.gif") for t in bad])
    assert all(r.status == 200 and r.body == GIF for r in replies)
    assert all(r.headers["cache-control"] == NO_STORE for r in replies)
    assert not TrackingEvent.objects.exists()


def test_head_is_answered_and_recorded_as_prefetch(
    embedded_app: TrackingApp, alice: User
) -> None:
    email, _ = register(alice)
    link = email.links.get(position=1)
    replies = drive(
        embedded_app,
        [
            Req(_pixel_path(email), method="HEAD"),
            Req(f"/t/c/{tokens.click_token(email.pk, link.pk)}", method="HEAD"),
        ],
    )
    assert [r.status for r in replies] == [200, 302]
    assert [r.body for r in replies] == [b"", b""]
    assert replies[0].headers["content-length"] == "43"
    events = TrackingEvent.objects.order_by("id")
    assert [(e.kind, e.method, e.verdict, e.reason) for e in events] == [
        (Kind.OPEN, "HEAD", Verdict.PREFETCH, "HEAD request"),
        (Kind.CLICK, "HEAD", Verdict.PREFETCH, "HEAD request"),
    ]


def test_other_methods_and_paths_are_refused(embedded_app: TrackingApp) -> None:
    replies = drive(embedded_app, [Req("/t/o/x.gif", method="POST"), Req("/t/zzz")])
    assert [r.status for r in replies] == [405, 404]


def _mutations(token: str, rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_=.%/+"
    chars = list(token)
    choice = rng.randrange(6)
    if choice == 0:
        i = rng.randrange(len(chars))
        chars[i] = rng.choice([c for c in alphabet if c != chars[i]])
    elif choice == 1:
        del chars[rng.randrange(len(chars))]
    elif choice == 2:
        chars.insert(rng.randrange(len(chars) + 1), rng.choice(alphabet))
    elif choice == 3:
        i, j = sorted(rng.sample(range(len(chars)), 2))
        if chars[i] == chars[j]:
            chars[i] = "A" if chars[i] != "A" else "B"
        chars[i], chars[j] = chars[j], chars[i]
    elif choice == 4:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
    else:
        return token + "/" + rng.choice(["..", "https://evil.example", "%2F%2Fevil"])
    return "".join(chars)


def test_rewritten_links_lead_only_to_their_stored_targets(
    embedded_app: TrackingApp, alice: User, bob: User
) -> None:
    email, _ = register(alice)
    other, _ = register(
        alice, to=["zed@other.example"], html='<a href="https://other.example/z">z</a>'
    )
    bobs, _ = register(bob)  # core seat: no click links, only the trap
    stored = {
        (link.email_id, link.pk): link.url
        for link in [*email.links.all(), *other.links.all(), *bobs.links.all()]
    }
    genuine = [tokens.click_token(e, link) for e, link in stored]
    # Tokens that combine real ids wrongly: an email with another email's link.
    forged_ids = [
        tokens.click_token(email.pk, link) for e, link in stored if e != email.pk
    ]
    rng = random.Random(20261127)
    queries = [
        "",
        "url=https://evil.example",
        "next=//evil.example&u=javascript:alert(1)",
    ]
    requests = []
    for n in range(10_000):
        base = genuine[n % len(genuine)]
        token = (
            forged_ids[n % len(forged_ids)] if n % 50 == 0 else _mutations(base, rng)
        )
        requests.append(Req(f"/t/c/{token}", query=rng.choice(queries)))
    for token in genuine:  # and the genuine ones, with hostile query strings
        requests.append(Req(f"/t/c/{token}", query="url=https://evil.example"))
    replies = drive(embedded_app, requests)
    redirects = 0
    for req, reply in zip(requests, replies, strict=True):
        ids = tokens.click_token_verify(req.path[len("/t/c/") :])
        if ids is not None and ids in stored:
            assert reply.status == 302 and reply.headers["location"] == stored[ids]
            redirects += 1
        else:
            assert reply.status == 404, req.path
            assert "location" not in reply.headers
    assert redirects == len(genuine)
    assert TrackingEvent.objects.filter(kind=Kind.CLICK).count() == len(genuine)


def test_the_router_sends_tracking_paths_to_the_fast_path(
    settings: Any, alice: User
) -> None:
    settings.REDIS_URL = ""
    from config import asgi

    email, _ = register(alice)
    asgi.tracking_app._sink = None
    [reply] = drive(asgi.application, [Req(_pixel_path(email))])
    assert reply.body == GIF
    assert TrackingEvent.objects.filter(email=email).count() == 1


def test_with_redis_down_the_hits_are_journaled_and_still_answered(
    settings: Any, alice: User, tmp_path: Path
) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.TRACKING_SPILL_DIR = str(tmp_path)
    email, _ = register(alice)
    link = email.links.get(position=1)
    app = TrackingApp()
    pixel, click = drive(
        app,
        [Req(_pixel_path(email)), Req(f"/t/c/{tokens.click_token(email.pk, link.pk)}")],
    )
    assert (pixel.status, pixel.body) == (200, GIF)
    assert (click.status, click.headers["location"]) == (302, link.url)
    [journal] = journal_files(tmp_path)
    assert (journal.hits, journal.active) == (2, True)  # its worker still holds it
    assert (app.lost, app.refused) == (0, 0)


def test_the_session_key_travels_only_when_there_is_no_self_cookie() -> None:
    """The signed cookie names the user; a session key is a credential, carried on the
    stream only when nothing else can tell the sender's own browser (T5)."""
    from django.conf import settings

    from tracking.fastpath import hit_fields

    def hit(cookie: str) -> dict[str, str]:
        scope = {"method": "GET", "client": ("198.51.100.7", 1), "headers": [
            (b"cookie", cookie.encode()),
        ]}  # fmt: skip
        return hit_fields(scope, "o", 1, None)

    session = f"{settings.SESSION_COOKIE_NAME}=s3cr3t"
    own = f"{settings.TRACKING_SELF_COOKIE}=signed-id"
    both = hit(f"{session}; {own}")
    assert (both.get("sc"), "ss" in both) == ("signed-id", False)
    assert hit(session).get("ss") == "s3cr3t"
