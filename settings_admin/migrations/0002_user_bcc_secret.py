"""A personal BCC address per user: a secret of its own for each existing row."""

from __future__ import annotations

import secrets
from typing import Any

from django.db import migrations, models

import settings_admin.models


def fill(apps: Any, schema_editor: Any) -> None:
    UserSettings = apps.get_model("settings_admin", "UserSettings")
    for row in UserSettings.objects.filter(bcc_secret="").only("pk"):
        row.bcc_secret = secrets.token_hex(8)
        row.save(update_fields=["bcc_secret"])


class Migration(migrations.Migration):
    dependencies = [("settings_admin", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="usersettings",
            name="bcc_secret",
            field=models.CharField(default="", editable=False, max_length=32),
            preserve_default=False,
        ),
        migrations.RunPython(fill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="usersettings",
            name="bcc_secret",
            field=models.CharField(
                default=settings_admin.models.new_bcc_secret,
                editable=False,
                max_length=32,
                unique=True,
            ),
        ),
    ]
