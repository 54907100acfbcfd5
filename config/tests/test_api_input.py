"""Bad input to the API is a 4xx with the error shape and changes nothing (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from crm.models import Contact, ContactDeal
from crm.tests import factories

pytestmark = pytest.mark.django_db


def _schema() -> dict[str, Any]:
    import io

    out = io.StringIO()
    call_command("spectacular", "--format", "openapi", stdout=out)
    return yaml.safe_load(out.getvalue())


def _json_operations() -> list[tuple[str, str]]:
    found = []
    for path, operations in _schema()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                found.append((method, path))
    return found


def _assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "detail"}
    assert body["error"] == code


def test_json_nested_a_thousand_deep_is_refused_on_every_json_endpoint(
    admin_api: APIClient, admin_user: User
) -> None:
    alice, alice_api = admin_user, admin_api  # an admin reaches every endpoint
    ids = {
        "contacts": factories.contact("ann@acme.com", owner=alice).pk,
        "companies": factories.company(domain="globex.example", owner=alice).pk,
        "deals": factories.deal(owner=alice).pk,
        "tickets": factories.ticket(owner=alice).pk,
    }
    operations = _json_operations()
    assert len(operations) > 10
    deep = "[" * 1000 + "]" * 1000
    object_deep = '{"a":' * 1000 + "1" + "}" * 1000
    for method, path in operations:
        kind = path.split("/")[3]
        if "{id}" in path and kind not in ids:
            continue  # the object is looked up first; the crm kinds show the parse
        url = path.replace("{id}", str(ids.get(kind, 0)))
        for body in (deep, object_deep):
            response = getattr(alice_api, method)(
                url, data=body, content_type="application/json"
            )
            _assert_error(response, 400, "malformed_request")
    assert Contact.objects.count() == 1


def test_nesting_within_the_limit_still_parses(alice_api: APIClient) -> None:
    body = '{"first_name": "Ann", "emails": ["ann@acme.com"]}'
    response = alice_api.post(
        "/api/v1/contacts/", data=body, content_type="application/json"
    )
    assert response.status_code == 201


@override_settings(API_JSON_MAX_BYTES=1000)
def test_a_json_body_over_the_size_limit_is_413(alice_api: APIClient) -> None:
    name = "x" * 2000
    body = f'{{"first_name": "{name}", "emails": ["ann@acme.com"]}}'
    response = alice_api.post(
        "/api/v1/contacts/", data=body, content_type="application/json"
    )
    _assert_error(response, 413, "payload_too_large")
    assert Contact.objects.count() == 0


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 2**64, 10**30])
def test_an_integer_beyond_64_bits_in_an_association_is_a_400(
    alice_api: APIClient, alice: User, value: int
) -> None:
    contact = factories.contact("ann@acme.com", owner=alice)
    response = alice_api.post(
        f"/api/v1/contacts/{contact.pk}/deals/",
        data=f'{{"deal": {value}}}',
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert set(response.json()) == {"error", "detail"}
    assert not ContactDeal.objects.exists()


@pytest.mark.parametrize("body", ["{", "NaN", '{"a": NaN}', '"\\ud800"', "\xff"])
def test_json_that_does_not_parse_is_malformed_request(
    alice_api: APIClient, body: str
) -> None:
    response = alice_api.post(
        "/api/v1/contacts/",
        data=body.encode("latin-1") if body == "\xff" else body,
        content_type="application/json",
    )
    _assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nope/",
        "/api/v1/contacts/1/nothing/",
        "/api/v1/x/y/z",
        "/api/v1/contacts/%C3%89%0A/tickets/",  # a line break in the path
    ],
)
def test_an_unknown_api_path_is_a_json_404(alice_api: APIClient, path: str) -> None:
    for method in ("get", "post", "delete"):
        _assert_error(getattr(alice_api, method)(path), 404, "not_found")


def test_a_missing_slash_is_a_json_404_that_names_the_right_path(
    alice_api: APIClient,
) -> None:
    response = alice_api.get("/api/v1/contacts")
    _assert_error(response, 404, "not_found")
    assert "/api/v1/contacts/" in response.json()["detail"]


def test_an_unknown_api_path_is_a_404_for_visitors_too(anon_api: APIClient) -> None:
    _assert_error(anon_api.get("/api/v1/nope/"), 404, "not_found")


def test_an_unknown_api_path_is_a_json_404_even_with_a_session_and_no_csrf_token(
    alice: User,
) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    _assert_error(client.delete("/api/v1/contacts/null,null/"), 404, "not_found")


@pytest.mark.parametrize("value", [str(2**63), str(2**64), "99999999999999999999999"])
def test_an_id_beyond_64_bits_in_the_path_is_a_404(
    alice_api: APIClient, value: str
) -> None:
    for path in (
        f"/api/v1/contacts/{value}/",
        f"/api/v1/deals/{value}/",
        f"/api/v1/logged-emails/{value}/",
        f"/api/v1/emails/{value}/",
        f"/api/v1/contacts/{value}/timeline/",
    ):
        _assert_error(alice_api.get(path), 404, "not_found")


def test_every_operation_documents_the_errors_it_can_answer() -> None:
    missing = []
    for path, operations in _schema()["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            if "{" in path and "404" not in codes:
                missing.append(f"{method} {path}: 404")
            if "requestBody" in operation and not {"400", "413", "415"} <= codes:
                missing.append(f"{method} {path}: 400/413/415")
            if not {"401", "403"} <= codes:
                missing.append(f"{method} {path}: 401/403")
    assert missing == []
