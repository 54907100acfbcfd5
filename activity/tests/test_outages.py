"""The mail pipeline across a database outage: a real Celery worker (a subprocess on the
test database and Redis) while the test refuses and severs its connections."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from activity.models import InboundEmail, InboundStatus
from activity.tests.mail import message, raw
from config.celery import app as celery_app
from config.testing import database_url_of_tests, sever_database
from crm.models import Contact

ROOT = Path(__file__).resolve().parents[2]


def test_a_mail_posted_during_a_database_outage_is_logged_within_30_s_of_its_return(
    transactional_db: None,
    services: str,
    alice_api: APIClient,
    anna: Contact,
    tmp_path: Path,
) -> None:
    # The queue the API's enqueue uses, on this run's own Redis database: emptied
    # of anything an earlier run left.
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    redis.Redis.from_url(settings.REDIS_URL).delete(queue)
    env = {
        **os.environ,
        "DEBUG": "1",
        "DATABASE_URL": database_url_of_tests(),
        "REDIS_URL": settings.REDIS_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(  # noqa: S603 - our own command
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "--pool", "solo", "-Q", queue, "--loglevel", "INFO",
                "--without-heartbeat", "--without-gossip", "--without-mingle",
            ],
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    database = connection.settings_dict["NAME"]
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False  # queued on Redis, for the worker
    try:
        deadline = time.monotonic() + 60
        while b"ready." not in log.read_bytes():
            assert worker.poll() is None and time.monotonic() < deadline, (
                log.read_text()
            )
            time.sleep(0.1)
        sever_database(database, allow=False)
        try:
            # The API stores the message on this test's own connection (the database is
            # gone for every other), queues its task, and the worker cannot reach it.
            response = alice_api.post(
                "/api/v1/inbound/",
                data=raw(message()),
                content_type="message/rfc822",
            )
            assert response.status_code == 202, response.content
            row = InboundEmail.objects.get(pk=response.json()["id"])
            time.sleep(4)  # the worker tries, and retries
            row.refresh_from_db()
            assert row.status == InboundStatus.RECEIVED  # never failed for it
        finally:
            sever_database(database, allow=True)
        back = time.monotonic()
        while row.status != InboundStatus.LOGGED:
            assert time.monotonic() - back < 30, log.read_text()
            time.sleep(0.2)
            row.refresh_from_db()
        assert worker.poll() is None
    finally:
        celery_app.conf.task_always_eager = eager
        worker.send_signal(signal.SIGTERM)
        worker.wait(30)
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
    text = log.read_text()
    assert "Retry in" in text, text  # Celery's autoretry, not a silent success
    # The attempts during the outage could not be noted on the row (no database).
    assert row.logged_email is not None and row.reason == ""
