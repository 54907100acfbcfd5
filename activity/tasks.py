from __future__ import annotations

from celery import shared_task

from activity import services


@shared_task(name="activity.inbound_process", ignore_result=True)
def inbound_process(inbound_id: int) -> None:
    """Parse and log one stored inbound message, and others still waiting with it.

    `inbound_id`: the InboundEmail row, stored raw by a receiver. A missing row or one
    already processed (or taken by another worker's batch) is left alone; every outcome
    is written on the row itself. When the queue is behind, the task also logs up to
    `services.BATCH_SIZE` other received messages in the same transaction.
    """
    services.inbound_process_batch(inbound_ids=[inbound_id])


@shared_task(name="activity.inbound_process_many", ignore_result=True)
def inbound_process_many(inbound_ids: list[int]) -> None:
    """As `inbound_process`, for several stored rows queued together by the SMTP
    receiver; they are logged as one batch (with any others still waiting)."""
    services.inbound_process_batch(inbound_ids=inbound_ids)


@shared_task(name="activity.inbound_requeue_waiting", ignore_result=True)
def inbound_requeue_waiting() -> None:
    """Celery beat, every minute: queue again the stored messages whose task was lost
    (`services.inbound_requeue_waiting`)."""
    services.inbound_requeue_waiting()
