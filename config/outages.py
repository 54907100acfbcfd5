"""Which errors are an outage of PostgreSQL or Redis (to wait out and retry), not a bug.

The tracking ingestor waits them out (tracking.stream); the mail tasks retry on them with
Celery's autoretry (activity.tasks) and never record them as a message's failure.
"""

from __future__ import annotations

import psycopg
import redis
from django.db import InterfaceError, OperationalError

# What a restart, a failover or a severed connection raises.
TRANSIENT: tuple[type[Exception], ...] = (
    OperationalError,  # Django's, around psycopg's (AdminShutdown, connection refused)
    InterfaceError,  # "connection already closed"
    psycopg.OperationalError,
    psycopg.InterfaceError,
    redis.ConnectionError,  # BusyLoadingError (a Redis loading its data) is one
    redis.TimeoutError,
)
# Replies of a Redis that is restarting, or came back without its data (NOGROUP).
TRANSIENT_REPLIES = ("NOGROUP", "LOADING", "READONLY", "MASTERDOWN", "TRYAGAIN")


def transient(exc: BaseException) -> bool:
    """Whether the error is an outage to wait out rather than a bug."""
    if isinstance(exc, redis.ResponseError):
        return str(exc).startswith(TRANSIENT_REPLIES)
    return isinstance(exc, TRANSIENT)
