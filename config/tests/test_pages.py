from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from conftest import PASSWORD


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_sign_in_page_renders(db: None) -> None:
    response = Client().get(reverse("login"))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Sign in to Beacon" in page
    assert 'name="username"' in page and 'name="password"' in page
    assert "css/beacon.css" in page
    # Nobody is signed in: no navigation, no sign-out button.
    assert "Sign out" not in page


def test_signing_in_lands_on_the_contact_list(alice: User) -> None:
    client = Client()
    response = client.post(
        reverse("login"), {"username": "alice", "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    home = client.get(reverse("home"))
    assert home.status_code == 302
    assert home["Location"] == reverse("contact-list")


def test_a_wrong_password_does_not_sign_in(alice: User) -> None:
    client = Client()
    response = client.post(
        reverse("login"), {"username": "alice", "password": "not-it"}
    )
    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_home_sends_a_visitor_to_sign_in(db: None) -> None:
    response = Client().get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next=/"


def test_a_signed_in_user_is_not_shown_the_sign_in_form_again(alice: User) -> None:
    response = signed_in(alice).get(reverse("login"))
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_sign_out_is_a_post_and_ends_the_session(alice: User) -> None:
    client = signed_in(alice)
    assert client.get(reverse("logout")).status_code == 405
    assert "_auth_user_id" in client.session
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert "_auth_user_id" not in client.session


def page_of(client: Client, name: str, **kwargs: Any) -> str:
    response = client.get(reverse(name, **kwargs))
    assert response.status_code == 200
    return response.content.decode()


def test_the_layout_shows_navigation_and_the_signed_in_user(alice: User) -> None:
    page = page_of(signed_in(alice), "contact-list")
    for label, name in [
        ("Contacts", "contact-list"),
        ("Companies", "company-list"),
        ("Deals", "deal-list"),
        ("Tickets", "ticket-list"),
        ("API docs", "api-docs"),
    ]:
        assert f'href="{reverse(name)}"' in page, label
        assert label in page
    assert 'aria-current="page">Contacts' in page
    assert "Alice" in page
    assert f'action="{reverse("logout")}"' in page
    # Alice is not staff: no link to the admin.
    assert f'href="{reverse("admin:index")}"' not in page


def test_staff_see_the_admin_link(admin_user: User) -> None:
    page = page_of(signed_in(admin_user), "contact-list")
    assert f'href="{reverse("admin:index")}"' in page


def test_the_api_docs_and_schema_answer(db: None) -> None:
    client = Client()
    docs = page_of(client, "api-docs")
    assert "swagger-ui" in docs
    # Swagger UI comes from our own static files, never a CDN.
    assert "drf_spectacular_sidecar/swagger-ui-dist/" in docs
    assert "cdn.jsdelivr.net" not in docs
    schema = client.get(
        reverse("schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json"
    )
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Beacon CRM API"


def test_the_admin_asks_visitors_to_sign_in(db: None) -> None:
    response = Client().get("/admin/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def _admin_sign_in(username: str) -> tuple[Client, Any]:
    client = Client()
    response = client.post(
        reverse("admin:login"),
        {"username": username, "password": PASSWORD, "next": "/admin/"},
    )
    return client, response


def test_the_admin_sign_in_accepts_staff_only(admin_user: User, alice: User) -> None:
    staff, response = _admin_sign_in("admin")
    assert response.status_code == 302
    assert staff.get("/admin/").status_code == 200
    rep, response = _admin_sign_in("alice")
    assert response.status_code == 200
    assert rep.get("/admin/").status_code == 302


def test_the_health_check_answers_without_the_database(
    db: None, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(0):
        response = Client().get(reverse("healthz"))
    assert response.status_code == 200
    assert response.content == b"ok"
