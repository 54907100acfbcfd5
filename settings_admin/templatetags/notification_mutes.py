"""`{% mute_state tracked as mute %}`: whether the viewer muted an email or its contact.

The viewer's mutes are read once per request, however many cards a page shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import template
from django.http import HttpRequest

from settings_admin.models import NotificationMute
from settings_admin.selectors import notification_mutes_for_user

register = template.Library()


@dataclass(frozen=True)
class MuteState:
    email: NotificationMute | None
    contact: NotificationMute | None


def _mutes(request: HttpRequest) -> list[NotificationMute]:
    cached: list[NotificationMute] | None = getattr(
        request, "_notification_mutes", None
    )
    if cached is None:
        cached = list(notification_mutes_for_user(request.user))  # type: ignore[arg-type]
        request._notification_mutes = cached  # type: ignore[attr-defined]
    return cached


@register.simple_tag(takes_context=True)
def mute_state(context: dict[str, Any], tracked: Any) -> MuteState:
    request = context["request"]
    mutes = _mutes(request)
    email = next((m for m in mutes if m.email_id == tracked.pk), None)
    contact = None
    if tracked.contact_id and not tracked.is_anonymous:
        contact = next((m for m in mutes if m.contact_id == tracked.contact_id), None)
    return MuteState(email, contact)
