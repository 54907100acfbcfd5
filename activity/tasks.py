"""The inbound pipeline's Celery tasks, and the only code that queues them.

The receivers hand `inbound_enqueue` (or, from the SMTP receiver, `inbound_enqueue_many`)
to `activity.inbound.inbound_receive`; the tasks call back into `activity.inbound`, which
never imports this module.
"""

from __future__ import annotations

import logging

from celery import shared_task

from activity import inbound
from config.outages import TRANSIENT

log = logging.getLogger(__name__)


def inbound_enqueue(inbound_id: int) -> None:
    """Queues the processing of one stored row (its own task, at once)."""
    try:
        inbound_process.delay(inbound_id)
    except Exception:
        # The raw message is stored: it waits as `received` until the periodic sweep
        # queues it again (`inbound_requeue_waiting`); the receiver still answers
        # "accepted".
        log.exception("Queueing inbound %s failed", inbound_id)


def inbound_enqueue_many(inbound_ids: list[int]) -> None:
    """Queues one task for several stored rows; they are processed as one batch."""
    try:
        inbound_process_many.delay(inbound_ids)
    except Exception:
        # As in `inbound_enqueue`: stored rows wait as `received`; the next task that
        # runs also takes them (`inbound_process_batch` drains waiting rows), and the
        # periodic sweep queues them again.
        log.exception("Queueing inbound %s failed", inbound_ids)


# An outage of the database or Redis: the task runs again after 1, 2, 4, 8 then every
# 16 s at most (jittered below that), so a message is logged within ~16 s of the
# database's return; after MAX_RETRIES (~13 minutes) the re-queue sweep takes its rows.
# Never recorded as the message's failure (activity.inbound.TRANSIENT_REASON).
RETRY = {
    "autoretry_for": TRANSIENT,
    "retry_backoff": 1,
    "retry_backoff_max": 16,
    "retry_jitter": True,
    "max_retries": 50,
}


@shared_task(name="activity.inbound_process", ignore_result=True, **RETRY)
def inbound_process(inbound_id: int) -> None:
    """Parse and log one stored inbound message, and others still waiting with it.

    `inbound_id`: the InboundEmail row, stored raw by a receiver. A missing row or one
    already processed (or taken by another worker's batch) is left alone; every outcome
    is written on the row itself. When the queue is behind, the task also logs up to
    `inbound.BATCH_SIZE` other received messages in the same transaction.
    """
    inbound.inbound_process_batch(inbound_ids=[inbound_id])


@shared_task(name="activity.inbound_process_many", ignore_result=True, **RETRY)
def inbound_process_many(inbound_ids: list[int]) -> None:
    """As `inbound_process`, for several stored rows queued together by the SMTP
    receiver; they are logged as one batch (with any others still waiting)."""
    inbound.inbound_process_batch(inbound_ids=inbound_ids)


@shared_task(name="activity.inbound_requeue_waiting", ignore_result=True)
def inbound_requeue_waiting() -> int:
    """Celery beat, every minute: queue again the stored messages whose task was lost
    or gave up retrying through an outage (`inbound.inbound_lost`), BATCH_SIZE per
    task; answers how many.

    Nothing a user sent is left unread because one task went missing."""
    ids = inbound.inbound_lost()
    for start in range(0, len(ids), inbound.BATCH_SIZE):
        inbound_enqueue_many(ids[start : start + inbound.BATCH_SIZE])
    if ids:
        log.warning("Queued again %s inbound messages left waiting", len(ids))
    return len(ids)
