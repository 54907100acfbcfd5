"""Logged copies stored before issue 10 may hold live click URLs and the pixel of the
sender's tracked email: map the clicks back to their targets, drop trap and pixel."""

from __future__ import annotations

from typing import Any

from django.db import migrations
from django.db.models import Q


def strip(apps: Any, schema_editor: Any) -> None:
    from tracking.untracking import strip_live_tracking

    LoggedEmail = apps.get_model("activity", "LoggedEmail")
    TrackedLink = apps.get_model("tracking", "TrackedLink")
    marked = Q(html_body__contains="/t/c/") | Q(html_body__contains="/t/o/")
    marked |= Q(text_body__contains="/t/c/") | Q(text_body__contains="/t/o/")
    for email in LoggedEmail.objects.filter(marked).only(
        "pk", "html_body", "text_body"
    ).iterator(chunk_size=500):
        html, text = strip_live_tracking(
            email.html_body, email.text_body, links=TrackedLink
        )
        if (html, text) != (email.html_body, email.text_body):
            email.html_body, email.text_body = html, text
            email.save(update_fields=["html_body", "text_body"])


class Migration(migrations.Migration):
    dependencies = [
        ("activity", "0002_logged_email_sender_set_null"),
        ("tracking", "0005_event_counted_repeat"),
    ]

    operations = [migrations.RunPython(strip, migrations.RunPython.noop)]
