"""Board events: the group each pipeline's board listens on and the payloads sent to it.

The service sends them after its transaction commits; crm.consumers forwards them.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from crm.models import Deal, Ticket


def board_group(pipeline_id: int) -> str:
    return f"board-{pipeline_id}"


def record_moved_payload(record: Deal | Ticket) -> dict[str, Any]:
    return {
        "type": "record.moved",
        "kind": str(record._meta.model_name),
        "id": record.pk,
        "pipeline": record.pipeline_id,
        "stage": record.stage_id,
        # An archived card leaves the boards; a restored one comes back.
        "archived": record.archived_at is not None,
    }


def send_record_moved(record: Deal | Ticket, *, old_pipeline_id: int) -> None:
    """Tells the boards of the record's pipeline (and of the one it left) where it is."""
    layer = get_channel_layer()
    if layer is None:
        return
    payload = record_moved_payload(record)
    for pipeline_id in {old_pipeline_id, record.pipeline_id}:
        async_to_sync(layer.group_send)(
            board_group(pipeline_id), {"type": "record.moved", "payload": payload}
        )
