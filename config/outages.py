"""Which errors are an outage of PostgreSQL or Redis (to wait out and retry), not a bug.

The tracking ingestor waits them out (tracking.stream); the mail tasks retry on them with
Celery's autoretry (activity.tasks) and never record them as a message's failure.
"""

from __future__ import annotations

import logging
import time
from typing import Any

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


class OutageLog:
    """One log line when an outage starts and one when it ends, however many attempts
    fail in between (a retry loop that logged every attempt grew its log by megabytes).

    `start` is formatted with the arguments of the first `failed`; `end` with the
    outage's length in seconds and the number of failed attempts."""

    def __init__(
        self,
        logger: logging.Logger,
        start: str,
        end: str,
        *,
        start_level: int = logging.WARNING,
        end_level: int = logging.INFO,
    ) -> None:
        self.logger = logger
        self.start, self.end = start, end
        self.start_level, self.end_level = start_level, end_level
        self.since: float | None = None
        self.attempts = 0

    def failed(self, *args: Any) -> None:
        self.attempts += 1
        if self.since is None:
            self.since = time.monotonic()
            self.logger.log(self.start_level, self.start, *args)

    def over(self) -> None:
        if self.since is not None:
            seconds = time.monotonic() - self.since
            self.logger.log(self.end_level, self.end, seconds, self.attempts)
            self.since = None
            self.attempts = 0
