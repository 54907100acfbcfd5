from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from rest_framework.test import APIClient

from activity.models import InboundEmail
from activity.smtp import BccController, bcc_controller
from activity.tests.dns_server import dns_server
from crm.models import Contact, Deal, Pipeline, PipelineKind, Stage, Ticket
from crm.services import association_create, contact_create, deal_create, ticket_create
from crm.tests import factories
from settings_admin.models import AccountSettings
from settings_admin.selectors import account_settings_get

PostInbound = Callable[..., InboundEmail]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings: Any, tmp_path: Any) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def account(db: None) -> AccountSettings:
    return account_settings_get()


@pytest.fixture
def post_inbound(
    django_capture_on_commit_callbacks: Any,
) -> PostInbound:
    """POSTs raw MIME to /api/v1/inbound/ and runs the queued task; answers the row."""

    def post(client: APIClient, data: bytes, *, expect: int = 202) -> InboundEmail:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/inbound/", data=data, content_type="message/rfc822"
            )
        assert response.status_code == expect, response.content
        return InboundEmail.objects.get(pk=response.json()["id"])

    return post


@pytest.fixture
def anna(request: pytest.FixtureRequest, db: None, alice: Any) -> Contact:
    """Anna Svensson, two addresses, made by the service (so acme.com is her company);
    in modules marked `plain_anna` (the page tests) a bare row: "Anna", one address."""
    if request.node.get_closest_marker("plain_anna"):
        return factories.contact("anna@acme.com", first_name="Anna", owner=alice)
    return contact_create(
        emails=["anna@acme.com", "anna.svensson@acme.com"],
        first_name="Anna",
        last_name="Svensson",
        owner=alice,
    )


def _open_record(
    contact: Contact, kind: str, pipeline: str, stage: str, create: Any, **fields: Any
) -> Any:
    """A deal or ticket in the one stage of a new pipeline, linked to `contact`."""
    in_pipeline = Pipeline.objects.create(name=pipeline, kind=kind)
    in_stage = Stage.objects.create(pipeline=in_pipeline, name=stage)
    record = create(pipeline=in_pipeline, stage=in_stage, **fields)
    association_create(left=contact, right=record)
    return record


@pytest.fixture
def open_deal(anna: Contact) -> Deal:
    return _open_record(
        anna, PipelineKind.DEAL, "Sales", "Proposal", deal_create, name="Acme renewal"
    )


@pytest.fixture
def open_ticket(anna: Contact) -> Ticket:
    return _open_record(
        anna,
        PipelineKind.TICKET,
        "Support",
        "New",
        ticket_create,
        subject="Login broken",
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server(transactional_db: None, settings: Any) -> Iterator[BccController]:
    """The real BCC receiver on a free loopback port; its DMARC lookups go to a DNS
    server of the test's own on loopback (no records: every domain is `none`)."""
    with dns_server() as (_, address):
        settings.DMARC_DNS_SERVERS = address
        controller = bcc_controller("127.0.0.1", free_port())
        controller.start()
        yield controller
        controller.stop()
    _close_other_sessions()


def _close_other_sessions() -> None:
    """The receiver's worker threads keep their database connections; end them so the
    test database can be flushed and dropped."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
