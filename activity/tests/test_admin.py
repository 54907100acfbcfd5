from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.test import Client

from activity.inbound import inbound_process
from activity.models import InboundEmail, InboundRoute, InboundStatus
from activity.tests.mail import message, personal_bcc, raw
from crm.models import Contact

pytestmark = pytest.mark.django_db


def _stored(data: bytes, status: str, reason: str) -> InboundEmail:
    inbound = InboundEmail(
        route=InboundRoute.SMTP,
        status=status,
        reason=reason,
        # alice's own address (when she is there): logged as her
        envelope_to=[personal_bcc()]
        if User.objects.filter(username="alice").exists()
        else [],
    )
    inbound.raw.save("x.eml", ContentFile(data), save=False)
    inbound.size = len(data)
    inbound.save()
    return inbound


def test_super_admins_filter_the_review_list_by_status(
    client: Client, admin_user: Any
) -> None:
    failed = _stored(b"garbage", InboundStatus.FAILED, "parse_error")
    _stored(raw(message()), InboundStatus.LOGGED, "")
    client.force_login(admin_user)
    response = client.get("/admin/activity/inboundemail/?status__exact=failed")
    assert response.status_code == 200
    rows = list(response.context["cl"].result_list)
    assert rows == [failed]
    assert b"parse_error" in response.content


def test_staff_without_super_admin_rights_do_not_see_inbound_mail(
    client: Client, bob: Any
) -> None:
    _stored(b"garbage", InboundStatus.FAILED, "parse_error")
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    response = client.get("/admin/activity/inboundemail/")
    assert response.status_code == 403


def test_the_reprocess_action_logs_a_fixed_message(
    client: Client, admin_user: Any, anna: Contact
) -> None:
    inbound = _stored(b"garbage", InboundStatus.FAILED, "parse_error")
    inbound.raw.save("fixed.eml", ContentFile(raw(message())), save=True)
    client.force_login(admin_user)
    response = client.post(
        "/admin/activity/inboundemail/",
        {"action": "reprocess", "_selected_action": [inbound.pk]},
        follow=True,
    )
    assert response.status_code == 200
    inbound.refresh_from_db()
    assert inbound.status == InboundStatus.LOGGED
    assert inbound.reason == ""
    assert inbound.logged_email is not None
    assert b"Re-processed: 1 logged." in response.content


def test_reprocessing_a_logged_message_does_not_log_it_twice(
    alice: Any, anna: Contact
) -> None:
    inbound = _stored(raw(message()), InboundStatus.RECEIVED, "")
    first = inbound_process(inbound_id=inbound.pk)
    again = inbound_process(inbound_id=inbound.pk, force=True)
    assert first is not None and again is not None
    assert again.reason == "duplicate"
    assert again.logged_email == first.logged_email
