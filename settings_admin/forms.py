"""Forms of the rep's settings page. Locked settings are shown, disabled, with the
account's value and the reason; the service refuses them anyway (`setting_locked`)."""

from __future__ import annotations

from typing import Any

from django import forms

from settings_admin.models import AccountSettings
from settings_admin.selectors import ASSOCIATION_TYPES, EffectiveSettings

DEFAULT_FIELDS: dict[str, tuple[str, str]] = {
    "log_by_default": (
        "Log my emails by default",
        "The add-in's Log box starts ticked: a copy of each email goes to the "
        "timelines of its recipients' records.",
    ),
    "track_by_default": (
        "Track my emails by default",
        "The add-in's Track box starts ticked: you see when recipients open "
        "(and, on a sales seat, click) your email.",
    ),
    "create_contacts": (
        "Create contacts for unknown recipients",
        "A logged email to someone Beacon does not know yet creates a contact "
        "owned by you.",
    ),
}
ASSOCIATION_LABELS = {
    kind: f"Associate logged emails with their {kind}" for kind in ASSOCIATION_TYPES
}


def lock_reasons(
    account: AccountSettings, effective: EffectiveSettings
) -> dict[str, str]:
    """Why each locked field is locked, in the rep's words."""
    reasons: dict[str, str] = {}
    if effective.log_locked:
        state = "logged" if account.log_all_by_default else "not logged"
        reasons["log_by_default"] = (
            f"Set by your admin for everyone: emails are {state} by default."
        )
    if not account.allow_tracking:
        reasons["track_by_default"] = (
            "Tracking is switched off for the whole account by your admin."
        )
    elif effective.track_locked:
        state = "tracked" if account.track_all_by_default else "not tracked"
        reasons["track_by_default"] = (
            f"Set by your admin for everyone: emails are {state} by default."
        )
    if effective.associate_locked:
        for kind in ASSOCIATION_TYPES:
            reasons[f"associate_{kind}"] = (
                "Set by your admin for everyone: which records a logged email is "
                "associated with."
            )
    return reasons


class DefaultsForm(forms.Form):
    """Log and track defaults, default associations, creating contacts."""

    def __init__(
        self,
        *args: Any,
        effective: EffectiveSettings,
        reasons: dict[str, str],
        **kwargs: Any,
    ) -> None:
        initial = {
            "log_by_default": effective.log_by_default,
            "track_by_default": effective.track_by_default,
            "create_contacts": effective.create_contacts,
            **{f"associate_{k}": v for k, v in effective.associate.items()},
        }
        kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        labels = {
            **DEFAULT_FIELDS,
            **{
                f"associate_{k}": (label, "") for k, label in ASSOCIATION_LABELS.items()
            },
        }
        for name, (label, help_text) in labels.items():
            self.fields[name] = forms.BooleanField(
                label=label,
                help_text=reasons.get(name, help_text),
                required=False,
                disabled=name in reasons,
            )
        self.reasons = reasons

    def changes(self) -> dict[str, bool]:
        """The unlocked settings, as the service takes them."""
        return {
            name: bool(value)
            for name, value in self.cleaned_data.items()
            if name not in self.reasons
        }

    def default_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in DEFAULT_FIELDS]

    def association_fields(self) -> list[forms.BoundField]:
        return [self[f"associate_{kind}"] for kind in ASSOCIATION_TYPES]


class NeverLogForm(forms.Form):
    pattern = forms.CharField(
        label="Address or domain never to log",
        max_length=254,
        help_text="name@domain.com for one address, *@domain.com for a whole domain.",
    )


class IdentityForm(forms.Form):
    email = forms.EmailField(
        label="Another address you send from",
        help_text="An alias or a shared inbox. Only your addresses can log email.",
    )


class AddinTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=100,
        help_text="Where you will use it, e.g. “Outlook on my laptop”.",
    )
