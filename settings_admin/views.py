"""The rep's own settings page (`/settings/`): defaults, never-log list, sending
identities; and the notification preferences page with the mute buttons' forms (V3).
Every write is the service the API's settings endpoints call; a form's refusal is shown
beside its field and the page answers 400."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from addin.selectors import addin_tokens_for_user
from addin.services import addin_token_create, addin_token_revoke
from config.api import Conflict, DomainError, NotAllowed, caller
from crm.selectors import contact_get_for_user
from settings_admin import selectors, services
from settings_admin.forms import (
    AddinTokenForm,
    DefaultsForm,
    IdentityForm,
    NeverLogForm,
    lock_reasons,
)
from settings_admin.models import NeverLogScope, SendingIdentity
from tracking.selectors import tracked_email_get_for_user

IDENTITY_ERRORS = {
    "identity_exists": "This is your sign-in address already.",
    "identity_taken": "This address belongs to another user.",
}
CONFIRMATION_ERRORS = {
    "confirmation_expired": "This link has expired. Send a new one from your settings.",
    "confirmation_invalid": "This link is not valid for you. Open it signed in as "
    "the user who added the address, or send a new one from your settings.",
}


def _defaults_form(request: HttpRequest, data: Any = None) -> DefaultsForm:
    account = selectors.account_settings_get()
    effective = selectors.effective_settings(request.user, account=account)  # type: ignore[arg-type]
    return DefaultsForm(
        data, effective=effective, reasons=lock_reasons(account, effective)
    )


NOTIFICATIONS_PATH = "/settings/notifications/"


def _optional_path(path: str) -> str:
    # Pages other parts of Beacon add (notification preferences); linked once they exist.
    try:
        resolve(path)
    except Resolver404:
        return ""
    return path


def _page(
    request: HttpRequest,
    status: int = 200,
    *,
    issued: Any = None,
    **bound: forms.Form,
) -> HttpResponse:
    user: Any = request.user
    entries = list(selectors.never_log_entries_for_user(user))
    account = selectors.account_settings_get()
    context = {
        "bcc_address": selectors.user_settings_get(user).bcc_address(account),
        "defaults_form": bound.get("defaults_form") or _defaults_form(request),
        "never_log_form": bound.get("never_log_form") or NeverLogForm(),
        "identity_form": bound.get("identity_form") or IdentityForm(),
        "own_entries": [e for e in entries if e.scope == NeverLogScope.USER],
        "account_entries": [e for e in entries if e.scope == NeverLogScope.ACCOUNT],
        "identities": selectors.sending_identities_for_user(user),
        "token_form": bound.get("token_form") or AddinTokenForm(),
        "tokens": addin_tokens_for_user(user),
        "issued": issued,
        "notifications_url": _optional_path(NOTIFICATIONS_PATH),
    }
    return render(request, "settings_admin/settings.html", context, status=status)


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def defaults_update(request: HttpRequest) -> HttpResponse:
    form = _defaults_form(request, request.POST)
    if not form.is_valid():
        return _page(request, 400, defaults_form=form)
    try:
        services.user_settings_update(user=request.user, data=form.changes())  # type: ignore[arg-type]
    except DomainError:
        # The account locked a setting while the page was open.
        form.add_error(None, "Your admin has just locked one of these settings.")
        return _page(request, 400, defaults_form=form)
    messages.success(request, "Your defaults are saved.")
    return redirect("settings")


@login_required
@require_POST
def never_log_add(request: HttpRequest) -> HttpResponse:
    form = NeverLogForm(request.POST)
    if form.is_valid():
        try:
            entry = services.never_log_add(
                pattern=form.cleaned_data["pattern"],
                user=request.user,  # type: ignore[arg-type]
            )
        except DomainError:
            form.add_error(
                "pattern", "Use name@domain.com for an address or *@domain.com."
            )
        else:
            messages.success(request, f"{entry.pattern} will never be logged.")
            return redirect("settings")
    return _page(request, 400, never_log_form=form)


@login_required
@require_POST
def never_log_remove(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        entry = selectors.never_log_entry_get_for_user(request.user, pk, write=True)  # type: ignore[arg-type]
    except NotAllowed:
        messages.error(request, "Only a super admin can change the account's list.")
        return redirect("settings")
    services.never_log_remove(entry=entry)
    messages.success(request, f"{entry.pattern} removed from your never-log list.")
    return redirect("settings")


@login_required
@require_POST
def identity_add(request: HttpRequest) -> HttpResponse:
    form = IdentityForm(request.POST)
    if form.is_valid():
        try:
            identity = services.sending_identity_add(
                user=request.user,  # type: ignore[arg-type]
                email=form.cleaned_data["email"],
            )
        except Conflict as exc:
            form.add_error("email", IDENTITY_ERRORS.get(exc.code, str(exc.detail)))
        else:
            messages.success(request, _identity_added(identity))
            return redirect("settings")
    return _page(request, 400, identity_form=form)


def _identity_added(identity: SendingIdentity) -> str:
    if identity.confirmed_at is not None:
        return f"You already send from {identity.email}."
    return (
        f"We sent a link to {identity.email}. Open it while signed in to confirm "
        "the address; until then email from it is not logged."
    )


@login_required
@require_POST
def identity_resend(request: HttpRequest, pk: int) -> HttpResponse:
    identity = selectors.sending_identity_get_for_user(request.user, pk)  # type: ignore[arg-type]
    services.sending_identity_send_confirmation(identity=identity)
    messages.success(request, _identity_added(identity))
    return redirect("settings")


@login_required
def identity_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """The link mailed to an added address: a GET asks (mail scanners open links), a
    POST confirms, for the user who added it only (U2)."""
    try:
        if request.method == "POST":
            identity = services.sending_identity_confirm(user=request.user, token=token)  # type: ignore[arg-type]
            messages.success(
                request, f"{identity.email} is confirmed: you send from it."
            )
            return redirect("settings")
        identity = selectors.sending_identity_for_token(request.user, token)  # type: ignore[arg-type]
    except DomainError as exc:
        error = CONFIRMATION_ERRORS.get(exc.code, str(exc.detail))
        return render(
            request,
            "settings_admin/identity_confirm.html",
            {"error": error},
            status=400,
        )
    return render(
        request, "settings_admin/identity_confirm.html", {"identity": identity}
    )


@login_required
def bcc_regenerate(request: HttpRequest) -> HttpResponse:
    """A GET asks first; a POST gives the rep a new personal BCC address (the API's
    service): the old one stops logging at once."""
    if request.method == "POST":
        services.user_bcc_regenerate(user=request.user)  # type: ignore[arg-type]
        messages.success(
            request,
            "Your BCC address is new: update it wherever you saved the old one.",
        )
        return redirect("settings")
    return render(request, "settings_admin/bcc_regenerate.html")


@login_required
@require_POST
def identity_remove(request: HttpRequest, pk: int) -> HttpResponse:
    identity = selectors.sending_identity_get_for_user(request.user, pk)  # type: ignore[arg-type]
    services.sending_identity_remove(identity=identity)
    messages.success(request, f"{identity.email} removed from your addresses.")
    return redirect("settings")


@login_required
@require_POST
def addin_token_add(request: HttpRequest) -> HttpResponse:
    """Creates a named add-in token and shows its secret on this one answer only (it
    is stored hashed), so the page is rendered rather than redirected to."""
    form = AddinTokenForm(request.POST)
    if form.is_valid():
        try:
            issued = addin_token_create(
                user=request.user,  # type: ignore[arg-type]
                name=form.cleaned_data["name"],
            )
        except DomainError:
            form.add_error("name", "Give the token a name of at most 100 characters.")
        else:
            return _page(request, 201, issued=issued)
    return _page(request, 400, token_form=form)


@login_required
@require_POST
def addin_token_remove(request: HttpRequest, pk: int) -> HttpResponse:
    addin_token_revoke(user=request.user, token_id=pk)  # type: ignore[arg-type]
    messages.success(request, "Token revoked: the add-in using it is signed out.")
    return redirect("settings")


# Notification preferences (V3).


class DesktopForm(forms.Form):
    desktop_notifications = forms.BooleanField(
        required=False, label="Show desktop pop-ups for opens and clicks"
    )


class MuteForm(forms.Form):
    contact = forms.IntegerField(required=False, min_value=1)
    email = forms.IntegerField(required=False, min_value=1)

    def clean(self) -> dict[str, int | None]:
        data = super().clean() or {}
        if (data.get("contact") is None) == (data.get("email") is None):
            raise forms.ValidationError("Mute a contact or an email.")
        return data


def _back(request: HttpRequest) -> HttpResponseRedirect:
    """To the page the button was on, or the preferences page."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("settings-notifications")
    return HttpResponseRedirect(target)


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = caller(request)
    own = selectors.user_settings_get(user)
    form = DesktopForm(
        request.POST if request.method == "POST" else None,
        initial={"desktop_notifications": own.desktop_notifications},
    )
    if request.method == "POST" and form.is_valid():
        services.user_settings_update(user=user, data=form.cleaned_data)
        messages.success(request, "Notification preferences saved.")
        return redirect("settings-notifications")
    context = {
        "form": form,
        "desktop": own.desktop_notifications,
        "mutes": selectors.notification_mutes_for_user(user),
    }
    return render(request, "settings_admin/notifications.html", context)


@login_required
@require_POST
def notification_mute(request: HttpRequest) -> HttpResponse:
    user = caller(request)
    form = MuteForm(request.POST)
    if not form.is_valid():
        return HttpResponse("Mute a contact or an email.", status=400)
    if form.cleaned_data["contact"] is not None:
        contact = contact_get_for_user(user, form.cleaned_data["contact"])
        services.notification_mute_add(user=user, contact_id=contact.pk)
        messages.success(request, f"Muted {contact}: no more notifications of them.")
    else:
        email = tracked_email_get_for_user(user, form.cleaned_data["email"])
        services.notification_mute_add(user=user, email_id=email.pk)
        messages.success(request, f"Muted '{email}': no more notifications of it.")
    return _back(request)


@login_required
@require_POST
def notification_unmute(request: HttpRequest, pk: int) -> HttpResponse:
    user = caller(request)
    mute = selectors.notification_mute_get_for_user(user, pk)
    services.notification_mute_remove(mute=mute)
    messages.success(request, f"Unmuted {mute.contact or mute.email}.")
    return _back(request)
