"""What the notification-mute tests share: a contact and one of alice's tracked emails."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from crm.models import Contact
from tracking.models import TrackedEmail
from tracking.tests.conftest import make_contact, register


@pytest.fixture
def anna(db: None) -> Contact:
    return make_contact("anna@acme.example", first_name="Anna", last_name="Svensson")


@pytest.fixture
def proposal(alice: User, anna: Contact) -> TrackedEmail:
    email, _ = register(alice, subject="Proposal")
    return email
