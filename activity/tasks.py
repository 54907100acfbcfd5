from __future__ import annotations

from celery import shared_task

from activity import services


@shared_task(name="activity.inbound_process", ignore_result=True)
def inbound_process(inbound_id: int) -> None:
    """Parse and log one stored inbound message.

    `inbound_id`: the InboundEmail row, stored raw by a receiver. A missing row or one
    already processed is left alone; every outcome is written on the row itself.
    """
    services.inbound_process(inbound_id=inbound_id)
