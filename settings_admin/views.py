"""The rep's notification preferences page (V3) and the mute buttons' forms."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from config.api import caller
from crm.selectors import contact_get_for_user
from settings_admin import selectors, services
from tracking.selectors import tracked_email_get_for_user


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
        target = reverse("notification-settings")
    return HttpResponseRedirect(target)


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    user = caller(request)  # type: ignore[arg-type]
    own = selectors.user_settings_get(user)
    form = DesktopForm(
        request.POST if request.method == "POST" else None,
        initial={"desktop_notifications": own.desktop_notifications},
    )
    if request.method == "POST" and form.is_valid():
        services.user_settings_update(user=user, data=form.cleaned_data)
        messages.success(request, "Notification preferences saved.")
        return redirect("notification-settings")
    context = {
        "form": form,
        "desktop": own.desktop_notifications,
        "mutes": selectors.notification_mutes_for_user(user),
    }
    return render(request, "settings_admin/notifications.html", context)


@login_required
@require_POST
def notification_mute(request: HttpRequest) -> HttpResponse:
    user = caller(request)  # type: ignore[arg-type]
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
    user = caller(request)  # type: ignore[arg-type]
    mute = selectors.notification_mute_get_for_user(user, pk)
    services.notification_mute_remove(mute=mute)
    messages.success(request, f"Unmuted {mute.contact or mute.email}.")
    return _back(request)
