"""The notification preferences page and the mute buttons' forms (V3)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import Client, RequestFactory

from conftest import client_for as signed_in
from crm.models import Contact
from settings_admin.models import NotificationMute, UserSettings
from tracking.models import TrackedEmail
from tracking.tests.conftest import register

PAGE = "/settings/notifications/"
MUTE = "/settings/notifications/mutes/"


def test_the_page_is_in_the_menu_and_shows_the_users_own_mutes(
    alice: User, bob: User, anna: Contact, proposal: TrackedEmail
) -> None:
    NotificationMute.objects.create(user=alice, email=proposal)
    NotificationMute.objects.create(user=bob, contact=anna)

    page = signed_in(alice).get(PAGE).content.decode()

    assert f'href="{PAGE}" class="active" aria-current="page">Notifications' in page
    assert "Proposal" in page
    assert "Anna Svensson" not in page  # bob's mute
    assert 'role="status" aria-live="polite"' in page
    assert "js/notifications.mjs" in page


def test_signed_out_visitors_go_to_the_sign_in_page(db: None) -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert Client().post(MUTE, {"contact": 1}).status_code == 302
    assert not NotificationMute.objects.exists()


def test_a_rep_turns_desktop_pop_ups_off_and_on(alice: User) -> None:
    client = signed_in(alice)
    assert client.post(PAGE, {}).status_code == 302
    assert UserSettings.objects.get(user=alice).desktop_notifications is False
    client.post(PAGE, {"desktop_notifications": "on"})
    assert UserSettings.objects.get(user=alice).desktop_notifications is True


def test_a_mute_button_mutes_and_goes_back_to_its_page(
    alice: User, anna: Contact, proposal: TrackedEmail
) -> None:
    client = signed_in(alice)
    response = client.post(MUTE, {"contact": anna.pk, "next": "/activity/?x=1"})
    assert (response.status_code, response["Location"]) == (302, "/activity/?x=1")
    response = client.post(
        MUTE, {"email": proposal.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == PAGE
    mutes = NotificationMute.objects.filter(user=alice)
    assert set(mutes.values_list("contact", "email")) == {
        (anna.pk, None),
        (None, proposal.pk),
    }

    mute = mutes.get(contact=anna)
    response = client.post(f"{MUTE}{mute.pk}/delete/", {"next": "/activity/"})
    assert response["Location"] == "/activity/"
    assert not NotificationMute.objects.filter(contact=anna).exists()


def test_nobody_mutes_someone_elses_email_or_unmutes_their_mutes(
    alice: User, bob: User, anna: Contact, proposal: TrackedEmail
) -> None:
    mute = NotificationMute.objects.create(user=alice, contact=anna)
    client = signed_in(bob)
    assert client.post(MUTE, {"email": proposal.pk}).status_code == 404
    assert client.post(f"{MUTE}{mute.pk}/delete/").status_code == 404
    assert list(NotificationMute.objects.values_list("user", "contact")) == [
        (alice.pk, anna.pk)
    ]


@pytest.mark.parametrize("data", [{}, {"contact": 1, "email": 1}, {"email": "x"}])
def test_a_bad_mute_form_changes_nothing(alice: User, data: dict[str, object]) -> None:
    assert signed_in(alice).post(MUTE, data).status_code == 400
    assert not NotificationMute.objects.exists()


def _buttons(user: User, email: TrackedEmail) -> str:
    request = RequestFactory().get("/contacts/1/")
    request.user = user
    return render_to_string(
        "settings_admin/_mute_buttons.html", {"tracked": email}, request=request
    )


def test_the_mute_buttons_are_for_the_sender_and_say_what_is_muted(
    alice: User, bob: User, anna: Contact, proposal: TrackedEmail
) -> None:
    assert "Mute this email" in _buttons(alice, proposal)
    assert "Mute this contact" in _buttons(alice, proposal)
    assert _buttons(bob, proposal).strip() == ""

    NotificationMute.objects.create(user=alice, contact=anna)
    html = _buttons(alice, proposal)
    assert "Unmute this contact" in html
    assert "Mute this email" in html


def test_an_anonymous_email_offers_no_contact_to_mute(alice: User) -> None:
    email, _ = register(alice, to=["a@x.example", "b@x.example"])
    html = _buttons(alice, email)
    assert "Mute this email" in html
    assert "Mute this contact" not in html
    assert 'name="contact"' not in html


def test_the_cards_and_the_email_page_include_shows_the_buttons(
    alice: User, proposal: TrackedEmail
) -> None:
    request = RequestFactory().get("/emails/1/")
    request.user = alice
    html = render_to_string(
        "activity/_mute_controls.html", {"tracked": proposal}, request=request
    )
    assert "Mute this email" in html
    assert "Mute this contact" in html
