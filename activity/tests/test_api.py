from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from activity.models import LoggedEmail
from activity.tests.conftest import PostInbound
from activity.tests.mail import message, raw, with_attachment
from crm.models import Contact

pytestmark = pytest.mark.django_db


@pytest.fixture
def logged(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> LoggedEmail:
    msg = message(
        html='<p>Hi <img src="https://tracker.example/t/o/x.gif"> '
        '<img src="cid:logo@x"><script>alert(1)</script></p>'
    )
    html_part = msg.get_body(preferencelist=("html",))
    html_part.add_related(  # type: ignore[union-attr]
        b"PNG", maintype="image", subtype="png", cid="<logo@x>"
    )
    with_attachment(msg, data=b"%PDF offer", filename="offer.pdf")
    inbound = post_inbound(alice_api, raw(msg))
    assert inbound.logged_email is not None
    return inbound.logged_email


def test_the_inbound_endpoint_needs_a_signed_in_user(anon_api: APIClient) -> None:
    response = anon_api.post(
        "/api/v1/inbound/", data=b"x", content_type="message/rfc822"
    )
    assert response.status_code in (401, 403)
    assert response.json()["error"] in ("not_authenticated", "forbidden")


def test_the_inbound_endpoint_takes_only_message_rfc822(alice_api: APIClient) -> None:
    response = alice_api.post("/api/v1/inbound/", data={"a": 1}, format="json")
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_an_inbound_row_is_seen_by_its_poster_and_admins_only(
    alice_api: APIClient, bob_api: APIClient, admin_api: APIClient, logged: LoggedEmail
) -> None:
    inbound = logged.inbound_copies.get()
    assert alice_api.get(f"/api/v1/inbound/{inbound.pk}/").json()["status"] == "logged"
    assert admin_api.get(f"/api/v1/inbound/{inbound.pk}/").status_code == 200
    assert bob_api.get(f"/api/v1/inbound/{inbound.pk}/").status_code == 404


def test_the_contact_timeline_lists_pinned_first_then_newest_with_a_cursor(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    from datetime import UTC, datetime

    ids = []
    for day in range(1, 6):
        inbound = post_inbound(
            alice_api,
            raw(
                message(
                    message_id=f"<t{day}@x.example>",
                    subject=f"Day {day}",
                    date=datetime(2026, 11, day, tzinfo=UTC),
                )
            ),
        )
        ids.append(inbound.logged_email_id)
    assert alice_api.post(f"/api/v1/logged-emails/{ids[1]}/pin/").status_code == 200

    first = alice_api.get(f"/api/v1/contacts/{anna.pk}/timeline/?page_size=2").json()
    assert [item["subject"] for item in first["results"]] == ["Day 2", "Day 5"]
    second = alice_api.get(first["next"]).json()
    assert [item["subject"] for item in second["results"]] == ["Day 4", "Day 3"]
    third = alice_api.get(second["next"]).json()
    assert [item["subject"] for item in third["results"]] == ["Day 1"]
    assert third["next"] is None


def test_company_deal_and_ticket_timelines(
    alice_api: APIClient, logged: LoggedEmail, anna: Contact
) -> None:
    company = logged.companies.get()
    page = alice_api.get(f"/api/v1/companies/{company.pk}/timeline/").json()
    assert [item["id"] for item in page["results"]] == [logged.pk]
    assert alice_api.get("/api/v1/deals/999999/timeline/").status_code == 404
    assert (
        alice_api.get("/api/v1/tickets/999999/timeline/").json()["error"] == "not_found"
    )


def test_timelines_and_details_need_a_signed_in_user(
    anon_api: APIClient, logged: LoggedEmail, anna: Contact
) -> None:
    for url in (
        f"/api/v1/contacts/{anna.pk}/timeline/",
        f"/api/v1/logged-emails/{logged.pk}/",
        f"/api/v1/logged-emails/{logged.pk}/body/",
        f"/api/v1/logged-emails/{logged.pk}/thread/",
        f"/api/v1/attachments/{logged.attachments.first().pk}/download/",  # type: ignore[union-attr]
    ):
        assert anon_api.get(url).status_code in (401, 403), url
    assert anon_api.delete(f"/api/v1/logged-emails/{logged.pk}/").status_code in (
        401,
        403,
    )
    assert anon_api.post(f"/api/v1/logged-emails/{logged.pk}/pin/").status_code in (
        401,
        403,
    )


def test_the_details_show_addresses_associations_and_attachments(
    bob_api: APIClient, logged: LoggedEmail, anna: Contact
) -> None:
    data = bob_api.get(f"/api/v1/logged-emails/{logged.pk}/").json()
    assert data["from_address"] == "alice@beacon.example"
    assert data["to"] == ["anna@acme.com"]
    assert data["associations"]["contacts"] == [anna.pk]
    names = sorted(item["filename"] for item in data["attachments"])
    assert names == ["offer.pdf", "part-1"]
    pdf = next(item for item in data["attachments"] if item["filename"] == "offer.pdf")
    download = bob_api.get(pdf["download_url"])
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"%PDF offer"  # type: ignore[attr-defined]


def test_the_body_is_sanitised_and_never_loads_remote_images(
    bob_api: APIClient, logged: LoggedEmail
) -> None:
    html = bob_api.get(f"/api/v1/logged-emails/{logged.pk}/body/").json()["html"]
    assert "tracker.example" not in html
    assert "<script" not in html
    inline = logged.attachments.get(content_id="logo@x")
    assert f'src="/api/v1/attachments/{inline.pk}/download/"' in html


def test_the_thread_lists_the_emails_oldest_first(
    alice_api: APIClient, post_inbound: PostInbound, anna: Contact
) -> None:
    one = post_inbound(alice_api, raw(message(message_id="<a@x.example>")))
    two = post_inbound(
        alice_api,
        raw(
            message(
                message_id="<b@x.example>",
                in_reply_to="<a@x.example>",
            )
        ),
    )
    data = alice_api.get(f"/api/v1/logged-emails/{two.logged_email_id}/thread/").json()
    assert [item["id"] for item in data["emails"]] == [
        one.logged_email_id,
        two.logged_email_id,
    ]


def test_the_sender_edits_associations_and_someone_else_cannot(
    alice_api: APIClient, bob_api: APIClient, logged: LoggedEmail, open_deal: Any
) -> None:
    url = f"/api/v1/logged-emails/{logged.pk}/associations/"
    before = alice_api.get(f"/api/v1/logged-emails/{logged.pk}/").json()["associations"]
    denied = bob_api.patch(url, {"deals": [open_deal.pk]}, format="json")
    assert denied.status_code == 403 and denied.json()["error"] == "forbidden"
    assert (
        alice_api.get(f"/api/v1/logged-emails/{logged.pk}/").json()["associations"]
        == before
    )

    patched = alice_api.patch(url, {"deals": [open_deal.pk]}, format="json")
    assert patched.status_code == 200
    assert patched.json()["deals"] == [open_deal.pk]
    assert patched.json()["contacts"] == before["contacts"]
    replaced = alice_api.put(url, {"contacts": []}, format="json").json()
    assert replaced == {"contacts": [], "companies": [], "deals": [], "tickets": []}
    bad = alice_api.patch(url, {"deals": [424242]}, format="json")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_association"
    unknown = alice_api.patch(url, {"owners": [1]}, format="json")
    assert unknown.json()["error"] == "unknown_field"


def test_a_super_admin_may_edit_any_logged_email(
    admin_api: APIClient, logged: LoggedEmail
) -> None:
    response = admin_api.post(f"/api/v1/logged-emails/{logged.pk}/pin/")
    assert response.json() == {"id": logged.pk, "is_pinned": True}


def test_pin_and_unpin_by_the_sender_only(
    alice_api: APIClient, bob_api: APIClient, logged: LoggedEmail
) -> None:
    url = f"/api/v1/logged-emails/{logged.pk}/pin/"
    assert bob_api.post(url).status_code == 403
    logged.refresh_from_db()
    assert not logged.is_pinned
    assert alice_api.post(url).json()["is_pinned"] is True
    assert bob_api.delete(url).status_code == 403
    assert alice_api.delete(url).json()["is_pinned"] is False


def test_delete_is_soft_by_the_sender_only_and_hides_the_email(
    alice: Any,
    alice_api: APIClient,
    bob_api: APIClient,
    logged: LoggedEmail,
    anna: Contact,
) -> None:
    url = f"/api/v1/logged-emails/{logged.pk}/"
    assert bob_api.delete(url).status_code == 403
    logged.refresh_from_db()
    assert logged.deleted_at is None

    assert alice_api.delete(url).status_code == 204
    logged.refresh_from_db()
    assert logged.deleted_at is not None and logged.deleted_by == alice
    assert alice_api.get(url).status_code == 404
    timeline = alice_api.get(f"/api/v1/contacts/{anna.pk}/timeline/").json()
    assert timeline["results"] == []
    attachment = logged.attachments.first()
    assert attachment is not None
    assert (
        alice_api.get(f"/api/v1/attachments/{attachment.pk}/download/").status_code
        == 404
    )


def test_the_attachment_page_view_needs_a_signed_in_user(
    client: Any, bob: Any, logged: LoggedEmail
) -> None:
    attachment = logged.attachments.get(filename="offer.pdf")
    anonymous = client.get(f"/attachments/{attachment.pk}/")
    assert anonymous.status_code == 302 and "login" in anonymous["Location"]
    client.force_login(bob)
    response = client.get(f"/attachments/{attachment.pk}/")
    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]


def test_deleting_a_contact_removes_its_link_to_logged_email(
    logged: LoggedEmail, anna: Contact
) -> None:
    anna.delete()
    assert logged.contacts.count() == 0  # P4


def test_the_timeline_costs_the_same_queries_for_many_emails(
    alice_api: APIClient,
    post_inbound: PostInbound,
    anna: Contact,
    django_assert_max_num_queries: Any,
) -> None:
    for index in range(6):
        post_inbound(alice_api, raw(message(message_id=f"<q{index}@x.example>")))
    with django_assert_max_num_queries(8):
        page = alice_api.get(f"/api/v1/contacts/{anna.pk}/timeline/").json()
    assert len(page["results"]) == 6
