"""Add-in tokens: named, revocable, stored as a hash, each user's own."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth.models import User
from django.utils import timezone
from rest_framework.test import APIClient

from addin.models import AddinToken
from addin.selectors import addin_tokens_for_user
from addin.services import addin_token_create, addin_token_revoke

pytestmark = pytest.mark.django_db


def token_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_it_stores_only_a_hash_of_the_token(alice: User) -> None:
    issued = addin_token_create(user=alice, name="  Outlook on my laptop ")

    row = AddinToken.objects.get()
    assert row.name == "Outlook on my laptop"
    assert row.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key not in {row.key_hash, row.prefix, row.name}
    assert issued.key.startswith(row.prefix)
    assert row.last_used_at is None


def test_a_token_signs_the_add_in_in_and_records_its_last_use(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")

    response = token_client(issued.key).get("/api/v1/addin/tokens/")

    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["Outlook"]
    issued.token.refresh_from_db()
    assert issued.token.last_used_at is not None


def test_last_use_is_written_at_most_once_a_minute(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    client = token_client(issued.key)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        client.get("/api/v1/addin/tokens/current/")
    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        client.get("/api/v1/addin/tokens/current/")
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start

    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        client.get("/api/v1/addin/tokens/current/")
    issued.token.refresh_from_db()
    assert issued.token.last_used_at == start + timedelta(seconds=61)


def test_a_fresh_last_use_costs_no_write(
    alice: User, django_assert_num_queries: object
) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    client = token_client(issued.key)
    client.get("/api/v1/addin/tokens/current/")

    # The token lookup (with its user) only: no UPDATE within the minute.
    with django_assert_num_queries(1):  # type: ignore[operator]
        response = client.get("/api/v1/addin/tokens/current/")
    assert response.status_code == 200


def test_a_revoked_token_is_refused(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    client = token_client(issued.key)
    assert client.get("/api/v1/addin/tokens/current/").status_code == 200

    addin_token_revoke(user=alice, token_id=issued.token.pk)
    response = client.get("/api/v1/contacts/")

    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_unknown_and_malformed_tokens_are_refused(alice: User) -> None:
    addin_token_create(user=alice, name="Outlook")

    unknown = token_client("bcn_not-a-token").get("/api/v1/contacts/")
    malformed = APIClient().get(
        "/api/v1/contacts/", HTTP_AUTHORIZATION="Token two parts"
    )
    anonymous = APIClient().get("/api/v1/contacts/")

    assert (unknown.status_code, malformed.status_code, anonymous.status_code) == (
        401,
        401,
        401,
    )


def test_an_inactive_users_token_is_refused(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    alice.is_active = False
    alice.save()

    assert token_client(issued.key).get("/api/v1/contacts/").status_code == 401


def test_a_signed_in_rep_creates_a_named_token_and_sees_it_once(
    alice_api: APIClient,
) -> None:
    response = alice_api.post("/api/v1/addin/tokens/", {"name": "Outlook"})

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "name", "prefix", "created_at", "last_used_at", "token"}
    assert body["name"] == "Outlook"
    assert body["last_used_at"] is None
    listed = alice_api.get("/api/v1/addin/tokens/").json()["results"]
    assert [t["id"] for t in listed] == [body["id"]]
    assert "token" not in listed[0]
    assert token_client(body["token"]).get("/api/v1/contacts/").status_code == 200


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_a_token_needs_a_name(alice_api: APIClient, name: str) -> None:
    response = alice_api.post("/api/v1/addin/tokens/", {"name": name})

    assert response.status_code == 400
    assert response.json()["error"] in {"validation_error", "invalid_token_name"}
    assert not AddinToken.objects.exists()


def test_a_blank_name_is_refused_by_the_service(alice: User) -> None:
    from addin.services import InvalidTokenName

    with pytest.raises(InvalidTokenName):
        addin_token_create(user=alice, name="  ")


def test_a_token_cannot_issue_more_tokens(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")

    response = token_client(issued.key).post("/api/v1/addin/tokens/", {"name": "Two"})

    assert response.status_code == 403
    assert response.json()["error"] == "token_cannot_issue_tokens"
    assert AddinToken.objects.count() == 1


def test_someone_else_cannot_see_or_revoke_a_token(
    alice: User, bob: User, bob_api: APIClient
) -> None:
    issued = addin_token_create(user=alice, name="Alice's Outlook")
    addin_token_create(user=bob, name="Bob's Outlook")

    listed = bob_api.get("/api/v1/addin/tokens/").json()["results"]
    revoke = bob_api.delete(f"/api/v1/addin/tokens/{issued.token.pk}/")

    assert [t["name"] for t in listed] == ["Bob's Outlook"]
    assert revoke.status_code == 404
    assert revoke.json()["error"] == "not_found"
    assert AddinToken.objects.filter(pk=issued.token.pk).exists()
    assert token_client(issued.key).get("/api/v1/contacts/").status_code == 200


def test_a_rep_revokes_their_own_token(alice: User, alice_api: APIClient) -> None:
    issued = addin_token_create(user=alice, name="Outlook")

    response = alice_api.delete(f"/api/v1/addin/tokens/{issued.token.pk}/")

    assert response.status_code == 204
    assert not addin_tokens_for_user(alice).exists()
    assert token_client(issued.key).get("/api/v1/contacts/").status_code == 401


def test_the_add_in_signs_out_by_revoking_its_own_token(alice: User) -> None:
    issued = addin_token_create(user=alice, name="Outlook")
    other = addin_token_create(user=alice, name="Phone")
    client = token_client(issued.key)

    current = client.get("/api/v1/addin/tokens/current/")
    signed_out = client.delete("/api/v1/addin/tokens/current/")

    assert current.json()["id"] == issued.token.pk
    assert signed_out.status_code == 204
    assert list(addin_tokens_for_user(alice)) == [other.token]


def test_current_token_needs_a_token(alice_api: APIClient) -> None:
    response = alice_api.get("/api/v1/addin/tokens/current/")

    assert response.status_code == 403
    assert response.json()["error"] == "not_token_authenticated"


def test_the_token_endpoints_refuse_anonymous_callers(anon_api: APIClient) -> None:
    assert anon_api.get("/api/v1/addin/tokens/").status_code == 401
    assert anon_api.post("/api/v1/addin/tokens/", {"name": "x"}).status_code == 401
    assert anon_api.delete("/api/v1/addin/tokens/1/").status_code == 401


def test_the_schema_documents_the_token_scheme(anon_api: APIClient) -> None:
    schema = anon_api.get("/api/schema/?format=json").json()

    scheme = schema["components"]["securitySchemes"]["addinToken"]
    assert scheme == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": scheme["description"],
    }
    assert {"addinToken": []} in schema["paths"]["/api/v1/addin/tokens/"]["get"][
        "security"
    ]
