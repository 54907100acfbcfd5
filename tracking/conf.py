"""Tracking knobs: read from settings when present, else these defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    "TRACKING_STREAM": "tracking:hits",
    "TRACKING_CONSUMER_GROUP": "tracking-ingest",
    # The signed cookie that marks a signed-in Beacon user's browser (verdict `self`).
    "TRACKING_SELF_COOKIE": "beacon_self",
    # T5 `duplicate`: the same open/click from the same IP and agent within this window.
    "TRACKING_DUPLICATE_SECONDS": 60,
    # T7: clicks this soon after Sent are a gateway scanning the message.
    "TRACKING_SCANNER_CLICK_SECONDS": 10,
    # T7: different links of one email clicked from one IP within this many seconds.
    "TRACKING_BURST_SECONDS": 2,
    # Stream entries per ingest batch, at most; each entry is one batch of hits from the
    # fast path (1 to 2,000 hits).
    "TRACKING_INGEST_ENTRIES": 200,
    # Hits per ingest batch: reading stops once this many are in hand.
    "TRACKING_INGEST_HITS": 5000,
    # A hit pending this long on a consumer is taken over by another (crash recovery).
    "TRACKING_CLAIM_IDLE_MS": 30_000,
}


def conf(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
