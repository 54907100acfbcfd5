"""The timeline's own index (activity.models.TimelineEntry), kept by PostgreSQL triggers:
after any write, by whichever path, each record's entries list exactly its visible
emails in the timeline's order, and a record's pages come from its own entries, however
many newer emails other records have."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from activity import services
from activity.models import LoggedEmail, TimelineEntry
from activity.selectors import timeline_page
from activity.tests.cockpit import BASE_TIME, logged
from crm.models import Company, Contact
from crm.tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def records(alice: User) -> dict[str, Any]:
    anna = factories.contact("anna@acme.com", owner=alice)
    ben = factories.contact("ben@acme.com", owner=alice)
    acme = Company.objects.get(domain="acme.com")
    emails = [
        logged(alice, [anna], subject=f"Mail {n}", sent_at=BASE_TIME + timedelta(n))
        for n in range(4)
    ]
    emails[0].companies.add(acme)
    return {"anna": anna, "ben": ben, "acme": acme, "emails": emails, "alice": alice}


def entries(record: Contact | Company) -> list[int]:
    kind = "contacts" if isinstance(record, Contact) else "companies"
    return list(
        TimelineEntry.objects.filter(record_kind=kind, record_id=record.pk)
        .order_by("-is_pinned", "-sent_at", "-email_id")
        .values_list("email_id", flat=True)
    )


def emails_of(record: Contact | Company) -> list[int]:
    """The same timeline read from the emails themselves (the embedded mode's way)."""
    return list(
        record.logged_emails.filter(deleted_at__isnull=True)
        .order_by("-is_pinned", "-sent_at", "-id")
        .values_list("id", flat=True)
    )


def _linked_by_the_orm(
    anna: Contact, ben: Contact, emails: list[Any], **_: Any
) -> None:
    emails[1].contacts.add(ben)


def _linked_by_the_service(
    alice: User, ben: Contact, acme: Company, emails: list[Any], **_: Any
) -> None:
    services.logged_email_associations_set(
        email=emails[2],
        actor=alice,
        associations={"contacts": [ben.pk], "companies": [acme.pk]},
    )


def _unlinked(anna: Contact, emails: list[Any], **_: Any) -> None:
    emails[3].contacts.remove(anna)


def _pinned_by_the_service(alice: User, emails: list[Any], **_: Any) -> None:
    services.logged_email_pin(email=emails[0], actor=alice, pinned=True)


def _pinned_in_bulk(emails: list[Any], **_: Any) -> None:
    LoggedEmail.objects.filter(pk__in=[emails[0].pk, emails[1].pk]).update(
        is_pinned=True
    )


def _redated_in_bulk(emails: list[Any], **_: Any) -> None:
    LoggedEmail.objects.filter(pk=emails[0].pk).update(sent_at=BASE_TIME + timedelta(9))


def _deleted_by_the_service(alice: User, emails: list[Any], **_: Any) -> None:
    services.logged_email_delete(email=emails[0], actor=alice)


def _deleted_and_restored_in_bulk(emails: list[Any], **_: Any) -> None:
    rows = LoggedEmail.objects.filter(pk__in=[emails[0].pk, emails[2].pk])
    rows.update(deleted_at=timezone.now())
    LoggedEmail.objects.filter(pk=emails[0].pk).update(deleted_at=None)


def _email_removed(emails: list[Any], **_: Any) -> None:
    emails[0].delete()


def _record_removed(acme: Company, **_: Any) -> None:
    acme.delete()


@pytest.mark.parametrize(
    "write",
    [
        _linked_by_the_orm,
        _linked_by_the_service,
        _unlinked,
        _pinned_by_the_service,
        _pinned_in_bulk,
        _redated_in_bulk,
        _deleted_by_the_service,
        _deleted_and_restored_in_bulk,
        _email_removed,
        _record_removed,
    ],
)
def test_every_write_leaves_each_records_entries_true(
    records: dict[str, Any], write: Callable[..., None]
) -> None:
    before = {name: entries(records[name]) for name in ("anna", "ben", "acme")}
    acme_pk = records["acme"].pk  # a deleted instance forgets its pk

    write(**records)

    after = {
        name: entries(records[name])
        for name in ("anna", "ben", "acme")
        if records[name].pk is not None
    }
    assert after != before
    for name, listed in after.items():
        assert listed == emails_of(records[name]), name
    if "acme" not in after:
        assert not TimelineEntry.objects.filter(
            record_kind="companies", record_id=acme_pk
        ).exists()


def test_a_record_with_a_few_old_emails_pages_past_many_newer_ones_of_others(
    alice: User,
) -> None:
    anna = factories.contact("anna@acme.com", owner=alice)
    ben = factories.contact("ben@acme.com", owner=alice)
    old = [
        logged(alice, [anna], subject=f"Old {n}", sent_at=BASE_TIME - timedelta(n + 1))
        for n in range(3)
    ]
    newer = [
        logged(alice, [ben], subject=f"New {n}", sent_at=BASE_TIME + timedelta(hours=n))
        for n in range(25)
    ]
    services.logged_email_pin(email=newer[3], actor=alice, pinned=True)

    annas, cursor = timeline_page(anna, size=10)
    seen: list[int] = []
    bens, cursor_b = timeline_page(ben, size=10)
    while True:
        seen += [email.pk for email in bens]
        if cursor_b is None:
            break
        bens, cursor_b = timeline_page(ben, cursor=cursor_b, size=10)

    assert [email.pk for email in annas] == [email.pk for email in old]
    assert cursor is None
    assert seen == [newer[3].pk] + [e.pk for e in reversed(newer) if e is not newer[3]]
