from __future__ import annotations

from django.apps import AppConfig


class CrmConfig(AppConfig):
    """Contacts, companies, deals, tickets, their pipelines and associations."""

    name = "crm"
    verbose_name = "CRM records"
