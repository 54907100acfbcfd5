"""A task logs the messages waiting in the queue together (issue 4's throughput)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from activity import tasks
from activity.inbound import (
    REQUEUE_AFTER,
    TRANSIENT_REASON,
    inbound_process_batch,
    inbound_receive,
)
from activity.models import InboundEmail, InboundRoute, InboundStatus, LoggedEmail
from activity.tests.mail import message, personal_bcc, raw
from crm.models import Contact

pytestmark = pytest.mark.django_db


def _stored(data: bytes) -> InboundEmail:
    """A received message not yet picked up (outside a test, its task is queued)."""
    return inbound_receive(
        route=InboundRoute.SMTP,
        raw=data,
        envelope_to=[personal_bcc()],  # alice's own address: logged as her
        enqueue=tasks.inbound_enqueue,
    )


def test_one_task_logs_every_waiting_message_in_a_few_queries(
    alice: Any,
    anna: Contact,
    open_deal: Any,
    open_ticket: Any,
    django_assert_max_num_queries: Any,
) -> None:
    rows = [
        _stored(raw(message(message_id=f"<batch-{i}@x.example>"))) for i in range(12)
    ]
    # Two INSERTs per email (thread, email) plus a fixed number for the batch.
    with django_assert_max_num_queries(2 * len(rows) + 24):
        done = inbound_process_batch(inbound_ids=[rows[3].pk])

    assert sorted(done) == sorted(row.pk for row in rows)
    for row in rows:
        row.refresh_from_db()
        assert (row.status, row.reason, row.attempts) == (InboundStatus.LOGGED, "", 1)
        assert row.sender == alice
        email = row.logged_email
        assert email is not None and email.message_id == row.message_id
        assert list(email.contacts.all()) == [anna]
        assert [c.domain for c in email.companies.all()] == ["acme.com"]
        assert list(email.deals.all()) == [open_deal]
        assert list(email.tickets.all()) == [open_ticket]


def test_a_batch_records_each_outcome_as_single_processing_would(alice: Any) -> None:
    good = _stored(raw(message(to=["new.person@globex.com"])))
    stranger = _stored(
        raw(message(sender="mallory@evil.example", message_id="<other@x.example>"))
    )
    again = _stored(raw(message(to=["new.person@globex.com"])))
    garbage = _stored(b"not an email")

    tasks.inbound_process(good.pk)

    outcomes = {row.pk: (row.status, row.reason) for row in InboundEmail.objects.all()}
    assert outcomes == {
        good.pk: (InboundStatus.LOGGED, ""),
        stranger.pk: (InboundStatus.REJECTED, "sender_not_identity"),
        again.pk: (InboundStatus.LOGGED, "duplicate"),
        garbage.pk: (InboundStatus.FAILED, "parse_error"),
    }
    assert LoggedEmail.objects.count() == 1
    assert Contact.objects.filter(emails__email="new.person@globex.com").count() == 1
    # Each row was attempted once: the rolled-back batch does not count.
    assert set(InboundEmail.objects.values_list("attempts", flat=True)) == {1}


def test_a_reply_chain_in_one_batch_shares_its_thread_and_associations(
    alice: Any, anna: Contact, open_deal: Any
) -> None:
    first = _stored(raw(message(message_id="<m1@x.example>")))
    _stored(
        raw(
            message(
                message_id="<m2@x.example>",
                subject="Re: Proposal",
                to=["boss@globex.com"],
                in_reply_to="<m1@x.example>",
                references=["<m1@x.example>"],
            )
        )
    )

    inbound_process_batch(inbound_ids=[first.pk])

    one, two = LoggedEmail.objects.order_by("pk")
    assert one.thread_id == two.thread_id
    assert anna in two.contacts.all()
    assert open_deal in two.deals.all()


def test_a_task_leaves_processed_and_retried_rows_alone(
    alice: Any, anna: Contact
) -> None:
    logged = _stored(raw(message(message_id="<done@x.example>")))
    inbound_process_batch(inbound_ids=[logged.pk])
    # Waiting for review after a failed attempt: only a super admin re-processes it.
    retried = _stored(raw(message(message_id="<retry@x.example>")))
    InboundEmail.objects.filter(pk=retried.pk).update(attempts=1)

    assert inbound_process_batch(inbound_ids=[logged.pk]) == []

    logged.refresh_from_db()
    retried.refresh_from_db()
    assert (logged.status, logged.attempts) == (InboundStatus.LOGGED, 1)
    assert (retried.status, retried.attempts) == (InboundStatus.RECEIVED, 1)


def test_one_queued_task_logs_the_rows_the_receiver_queued_together(
    alice: Any, anna: Contact
) -> None:
    rows = [_stored(raw(message(message_id=f"<many-{i}@x.example>"))) for i in range(3)]

    tasks.inbound_process_many([row.pk for row in rows])

    assert set(InboundEmail.objects.values_list("status", "reason", "attempts")) == {
        (InboundStatus.LOGGED, "", 1)
    }
    assert LoggedEmail.objects.count() == 3


def test_the_receivers_enqueuer_queues_waiting_rows_in_one_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from activity import smtp

    queued: list[list[int]] = []
    release = threading.Event()

    def broker(ids: list[int]) -> None:  # The broker is the outside world here.
        release.wait(10)
        queued.append(ids)

    monkeypatch.setattr(smtp, "inbound_enqueue_many", broker)
    enqueuer = smtp.Enqueuer()
    enqueuer.put(1)  # Taken at once; the broker is slow to answer...
    time.sleep(0.1)
    for pk in range(2, 6):  # ...so these wait and go together.
        enqueuer.put(pk)
    release.set()
    enqueuer.stop()

    assert queued == [[1], [2, 3, 4, 5]]


def test_the_batch_reads_the_same_recent_open_deals_as_one_contact_would(
    anna: Contact,
) -> None:
    from crm.models import Pipeline, PipelineKind, Stage
    from crm.selectors import (
        RECENT_OPEN_LIMIT,
        contact_recent_open_deals,
        recent_open_deals_by_contact,
    )
    from crm.services import association_create, deal_create

    pipeline = Pipeline.objects.create(name="Sales", kind=PipelineKind.DEAL)
    open_stage = Stage.objects.create(pipeline=pipeline, name="Open")
    won = Stage.objects.create(pipeline=pipeline, name="Won", is_closed=True)
    for i in range(8):
        deal = deal_create(
            name=f"Deal {i}", pipeline=pipeline, stage=won if i % 3 == 0 else open_stage
        )
        association_create(left=anna, right=deal)
    other = Contact.objects.create(first_name="No deals")

    found = recent_open_deals_by_contact({anna.pk, other.pk}, RECENT_OPEN_LIMIT)

    assert found[anna.pk] == contact_recent_open_deals(anna)
    assert len(found[anna.pk]) == RECENT_OPEN_LIMIT
    assert found[other.pk] == []


def test_the_batch_leaves_out_archived_and_closed_tickets_as_one_contact_would(
    anna: Contact,
) -> None:
    from crm.models import Pipeline, PipelineKind, Stage
    from crm.selectors import (
        contact_recent_open_tickets,
        recent_open_tickets_by_contact,
    )
    from crm.services import association_create, record_archive, ticket_create

    pipeline = Pipeline.objects.create(name="Support", kind=PipelineKind.TICKET)
    new = Stage.objects.create(pipeline=pipeline, name="New")
    solved = Stage.objects.create(pipeline=pipeline, name="Solved", is_closed=True)
    tickets = [
        ticket_create(
            subject=f"T{i}", pipeline=pipeline, stage=solved if i == 1 else new
        )
        for i in range(4)
    ]
    for ticket in tickets:
        association_create(left=anna, right=ticket)
    record_archive(record=tickets[2], archived=True)

    found = recent_open_tickets_by_contact({anna.pk})

    assert found[anna.pk] == contact_recent_open_tickets(anna)
    assert found[anna.pk] == [tickets[3], tickets[0]]


def test_a_message_whose_task_was_lost_is_queued_again_by_the_sweep(
    alice: Any, anna: Contact
) -> None:
    """Stored, its task never ran (queueing failed, Redis restarted): the periodic sweep
    queues it once it has waited REQUEUE_AFTER; fresh rows and rows already tried wait
    for their own task or for a super admin."""
    lost = _stored(raw(message(message_id="<lost@x.example>")))
    _stored(raw(message(message_id="<fresh@x.example>")))  # its own task is on its way
    tried = _stored(raw(message(message_id="<tried@x.example>")))
    # Its last attempt was cut short by an outage, and its task gave up retrying.
    cut_short = _stored(raw(message(message_id="<cut-short@x.example>")))
    long_ago = timezone.now() - REQUEUE_AFTER - timedelta(seconds=1)
    InboundEmail.objects.filter(pk__in=[lost.pk, tried.pk, cut_short.pk]).update(
        received_at=long_ago
    )
    InboundEmail.objects.filter(pk=tried.pk).update(attempts=1)
    InboundEmail.objects.filter(pk=cut_short.pk).update(
        attempts=3, reason=TRANSIENT_REASON, processed_at=long_ago
    )

    # The lost and the cut-short ones are queued (eager here: the task runs at once,
    # and like any batch task also takes the fresh one, still waiting, along with it).
    assert tasks.inbound_requeue_waiting() == 2

    statuses = dict(InboundEmail.objects.values_list("pk", "status"))
    assert statuses[lost.pk] == statuses[cut_short.pk] == InboundStatus.LOGGED
    assert statuses[tried.pk] == InboundStatus.RECEIVED
    assert LoggedEmail.objects.filter(message_id="lost@x.example").count() == 1
    tasks.inbound_requeue_waiting()  # the beat task: nothing left to queue
    assert InboundEmail.objects.get(pk=tried.pk).status == InboundStatus.RECEIVED


def test_the_sweep_runs_every_minute_from_celery_beat() -> None:
    from django.conf import settings

    [entry] = [
        e
        for e in settings.CELERY_BEAT_SCHEDULE.values()
        if e["task"] == "activity.inbound_requeue_waiting"
    ]
    assert entry["schedule"] == 60.0
    assert "activity.inbound_requeue_waiting" in tasks.inbound_requeue_waiting.app.tasks


def test_an_outage_while_logging_is_retried_never_recorded_as_a_failure(
    alice: Any, anna: Contact, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database going away in the middle of logging (here: the first statement of
    email_log raising what a severed connection raises): the task fails to be retried,
    the row stays `received` with the reason noted, and the next attempt logs it."""
    from django.db import OperationalError

    from activity import inbound

    row = _stored(raw(message(message_id="<outage@x.example>")))
    real = inbound.email_log

    def severed(**kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(inbound, "email_log", severed)
    with pytest.raises(OperationalError):
        inbound_process_batch(inbound_ids=[row.pk])
    row.refresh_from_db()
    assert (row.status, row.reason, row.attempts) == (
        InboundStatus.RECEIVED, TRANSIENT_REASON, 1,
    )  # fmt: skip
    assert "server closed" in row.detail
    monkeypatch.setattr(inbound, "email_log", real)
    assert inbound_process_batch(inbound_ids=[row.pk]) == [row.pk]
    row.refresh_from_db()
    assert (row.status, row.reason, row.attempts) == (InboundStatus.LOGGED, "", 2)


def test_the_mail_tasks_retry_outages_with_a_capped_backoff() -> None:
    from config.outages import TRANSIENT

    for task in (tasks.inbound_process, tasks.inbound_process_many):
        assert task.autoretry_for == TRANSIENT
        assert (task.retry_backoff, task.retry_backoff_max) == (1, 16)
