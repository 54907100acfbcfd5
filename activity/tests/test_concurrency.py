from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection

from activity.inbound import inbound_process
from activity.models import InboundEmail, InboundRoute, InboundStatus, LoggedEmail
from activity.tests.mail import message, personal_bcc, raw
from crm.models import Contact

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_workers_logging_the_same_message_at_once_store_it_once(
    postgres: None, alice: Any
) -> None:
    data = raw(message(to=["anna@acme.com", "new@globex.com"]))
    # Two copies (the add-in's and a BCC) stored, not yet picked up by any worker.
    rows = [
        InboundEmail.objects.create(
            route=route,
            raw=default_storage.save("inbound/c.eml", ContentFile(data)),
            size=len(data),
            envelope_to=[personal_bcc()] if route == InboundRoute.SMTP else [],
        )
        for route in (InboundRoute.SMTP, InboundRoute.API)
    ]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work(pk: int) -> None:
        try:
            barrier.wait()
            inbound_process(inbound_id=pk)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(row.pk,)) for row in rows]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert LoggedEmail.objects.count() == 1
    outcomes = sorted((row.status, row.reason) for row in InboundEmail.objects.all())
    assert outcomes == [(InboundStatus.LOGGED, ""), (InboundStatus.LOGGED, "duplicate")]
    assert {row.logged_email_id for row in InboundEmail.objects.all()} == {
        LoggedEmail.objects.get().pk
    }
    # Neither worker created the new contact twice.
    assert Contact.objects.filter(emails__email="new@globex.com").count() == 1
