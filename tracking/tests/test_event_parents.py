"""Events have no database foreign keys (tracking.models.TrackingEvent): the ingestor
checks an event's email, link and contact once per batch, and a deletion waits for the
batches being stored, so no event ever outlives its parents."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import close_old_connections, connection, transaction

from crm.models import Contact
from tracking.ingest import classify_batch, ingest_hits, store_batch
from tracking.models import TrackedEmail, TrackingEvent, Verdict
from tracking.tests.conftest import make_contact, raw_hit, register


def _orphans() -> int:
    """Events whose email, link or contact no longer exists."""
    no_email = TrackingEvent.objects.exclude(
        email_id__in=TrackedEmail.objects.values("pk")
    )
    no_contact = TrackingEvent.objects.filter(contact__isnull=False).exclude(
        contact_id__in=Contact.objects.values("pk")
    )
    return no_email.count() + no_contact.count()


@pytest.fixture
def email(alice: User) -> TrackedEmail:
    make_contact("anna@acme.example", first_name="Anna")
    tracked, _ = register(alice)
    assert tracked.contact_id is not None
    return tracked


def test_a_hit_classified_before_its_email_was_deleted_is_not_stored(
    email: TrackedEmail, alice: User
) -> None:
    other, _ = register(alice, to=("ola@other.example",))
    batch = classify_batch([raw_hit(email), raw_hit(other)])
    email.delete()
    assert store_batch(batch) == 1
    assert list(TrackingEvent.objects.values_list("email_id", flat=True)) == [other.pk]
    assert _orphans() == 0


def test_a_hit_classified_before_its_contact_was_deleted_is_stored_without_it(
    email: TrackedEmail,
) -> None:
    batch = classify_batch([raw_hit(email)])
    assert batch.rows[0].contact_id == email.contact_id
    contact = email.contact
    assert contact is not None
    contact.delete()
    assert store_batch(batch) == 1
    event = TrackingEvent.objects.get()
    assert (event.email_id, event.contact_id) == (email.pk, None)


def test_malformed_hits_are_dropped_and_the_rest_of_the_batch_is_stored(
    email: TrackedEmail, caplog: Any
) -> None:
    good = raw_hit(email)
    bad: list[Any] = [
        "not a hit at all",
        {**raw_hit(email), "h": "not-a-hit-id", "ss": "secret-session-key"},
        {**raw_hit(email), "t": "nan"},
        {**raw_hit(email), "ip": "300.1.2.3"},
        {**raw_hit(email), "k": "x"},
        {**raw_hit(email), "k": "c"},  # a click with no link
        {key: value for key, value in raw_hit(email).items() if key != "e"},
    ]
    assert ingest_hits([*bad, good]) == 1
    assert TrackingEvent.objects.get().hit_id.hex == good["h"]
    assert caplog.text.count("malformed hit") == len(bad)
    assert "secret-session-key" not in caplog.text  # a credential stays out of logs


def test_agents_with_copy_special_characters_are_stored_as_they_came(
    email: TrackedEmail,
) -> None:
    agent = "Odd\\Agent\twith tab\r\nand\x00nul"
    ingest_hits([raw_hit(email, ua=agent, ip="198.51.100.8")])
    event = TrackingEvent.objects.get()
    assert event.user_agent == "Odd\\Agent\twith tab\r\nandnul"
    assert event.verdict == Verdict.HUMAN


@pytest.mark.django_db(transaction=True)
def test_a_deletion_waits_for_the_batch_being_stored_and_removes_its_events(
    email: TrackedEmail, postgres: None
) -> None:
    """The race a foreign key would have caught: a batch is being stored (its parents
    checked) while the email is deleted. The deletion waits; its cascade sees the
    batch's events; nothing is left behind."""
    batch = classify_batch([raw_hit(email), raw_hit(email, ip="198.51.100.9")])
    stored = threading.Event()
    release = threading.Event()
    deleted: list[float] = []

    def store() -> None:
        try:
            with transaction.atomic():
                store_batch(batch)
                stored.set()
                release.wait(10)
        finally:
            connection.close()

    def delete() -> None:
        try:
            TrackedEmail.objects.get(pk=email.pk).delete()
            deleted.append(time.monotonic())
        finally:
            connection.close()

    storer = threading.Thread(target=store)
    storer.start()
    assert stored.wait(10)
    deleter = threading.Thread(target=delete)
    deleter.start()
    deleter.join(0.5)
    assert deleter.is_alive(), "the deletion must wait for the batch being stored"
    committed = time.monotonic()
    release.set()
    storer.join(10)
    deleter.join(10)
    close_old_connections()
    assert deleted and deleted[0] >= committed
    assert not TrackedEmail.objects.filter(pk=email.pk).exists()
    assert TrackingEvent.objects.count() == 0
    assert _orphans() == 0


def test_a_batch_holding_hits_already_stored_stores_and_notifies_only_the_new_ones(
    email: TrackedEmail, django_capture_on_commit_callbacks: Any
) -> None:
    """A replayed batch (an ingestor crashed after its commit, before XACK) mixed with
    new hits: on PostgreSQL the COPY fails on the hit id and the batch goes through
    INSERT ... ON CONFLICT DO NOTHING; either way each hit is stored once."""
    first = [raw_hit(email, ip=f"198.51.100.{n}") for n in range(10, 13)]
    assert ingest_hits(first) == 3
    fresh = [raw_hit(email, ip=f"198.51.100.{n}") for n in range(20, 22)]
    notified: list[tuple[int, dict[str, object]]] = []
    with django_capture_on_commit_callbacks(execute=True):
        stored = ingest_hits([*first, *fresh], notify=notified.extend)
    assert stored == 2
    assert TrackingEvent.objects.count() == 5
    assert sorted(str(p["event_id"]) for _, p in notified) == sorted(
        str(pk)
        for pk in TrackingEvent.objects.filter(
            hit_id__in=[hit["h"] for hit in fresh]
        ).values_list("pk", flat=True)
    )


def test_a_batch_costs_the_same_queries_whatever_its_size(
    email: TrackedEmail, django_capture_on_commit_callbacks: Any
) -> None:
    """Classify, store and notify read per batch, never per hit or per link."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    links = list(email.links.filter(is_trap=False))

    def batch(n: int, base: int) -> list[dict[str, str]]:
        return [
            raw_hit(email, link_id=links[i % len(links)].pk, ip=f"198.51.{base}.{i}")
            for i in range(n)
        ]

    counts = []
    for n, base in ((2, 1), (20, 2)):
        notified: list[Any] = []
        with (
            CaptureQueriesContext(connection) as captured,
            django_capture_on_commit_callbacks(execute=True),
        ):
            assert ingest_hits(batch(n, base), notify=notified.extend) >= n
        assert notified and all(
            p["link_url"] for _, p in notified if p["kind"] == "click"
        )
        counts.append(len(captured))
    assert counts[0] == counts[1]
