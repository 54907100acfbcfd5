"""Objects for the Schemathesis run (.ci/schemathesis) and its configuration.

Run on the fuzz database after `seed_demo`: makes the tokens (the demo rep alice's, the
super admin's, one to be signed out) and, owned by alice, one object for every path id
of the schema (a separate one where an operation deletes it), then writes the
Schemathesis configuration given as the first argument: alice's token for every
operation, the super admin's for the account settings, and each path id fixed to its
object, so the operations are exercised rather than answered 401, 403 or 404.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from email.message import EmailMessage
from importlib import import_module
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.conf import settings  # noqa: E402 - after setup
from django.contrib.auth import (  # noqa: E402
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
)
from django.contrib.auth.models import User  # noqa: E402

from activity.inbound import inbound_process, inbound_receive  # noqa: E402
from activity.models import InboundEmail, InboundRoute, LoggedEmail  # noqa: E402
from addin.services import addin_token_create  # noqa: E402
from crm.models import Pipeline, PipelineKind  # noqa: E402
from crm.services import (  # noqa: E402
    association_create,
    company_create,
    contact_company_associate,
    contact_create,
    deal_create,
    ticket_create,
)
from settings_admin.services import (  # noqa: E402
    never_log_add,
    notification_mute_add,
    sending_identity_add,
)
from tracking.services import tracked_email_register  # noqa: E402

# The record links' DELETE operations: (left kind, right kind, the right id's name).
LINKS = [
    ("contact", "company", "company_id"),
    ("contact", "deal", "other_id"),
    ("contact", "ticket", "other_id"),
    ("company", "deal", "other_id"),
    ("company", "ticket", "other_id"),
]


def _pipeline(kind: str) -> tuple[Any, Any]:
    pipeline = Pipeline.objects.filter(kind=kind).order_by("pk").first()
    assert pipeline is not None, "run seed_demo first"
    return pipeline, pipeline.stages.filter(is_closed=False).order_by(
        "position"
    ).first()


def _records(alice: User, name: str) -> dict[str, Any]:
    """A contact, a company, a deal and a ticket of alice's, linked together."""
    deals, tickets = _pipeline(PipelineKind.DEAL), _pipeline(PipelineKind.TICKET)
    contact = contact_create(
        emails=[f"{name}@fuzz-{name}.example"], first_name=name.title(), owner=alice
    )
    company = company_create(
        name=f"Fuzz {name}", domain=f"fuzz-{name}-co.example", owner=alice
    )
    deal = deal_create(
        name=f"Fuzz {name}", pipeline=deals[0], stage=deals[1], owner=alice
    )
    ticket = ticket_create(
        subject=f"Fuzz {name}", pipeline=tickets[0], stage=tickets[1], owner=alice
    )
    contact_company_associate(contact=contact, company=company)
    for left in (contact, company):
        association_create(left=left, right=deal)
        association_create(left=left, right=ticket)
    return {"contact": contact, "company": company, "deal": deal, "ticket": ticket}


def _session(user: User) -> str:
    """A signed-in session of `user`, as the pages' login makes."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return str(store.session_key)


def _logged(alice: User, to: str, subject: str) -> tuple[InboundEmail, LoggedEmail]:
    """A message from alice to `to` with an attachment, received and logged."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = alice.email, to, subject
    msg["Message-ID"] = f"<{subject.replace(' ', '-')}@fuzz.example>"
    msg.set_content("Hello,\nthe offer is attached.\n")
    msg.add_alternative("<p>Hello,</p><p>the offer is attached.</p>", subtype="html")
    msg.add_attachment(
        b"%PDF-1.4 offer", maintype="application", subtype="pdf", filename="offer.pdf"
    )
    received = inbound_receive(
        route=InboundRoute.API, raw=bytes(msg), enqueue=lambda pk: None, posted_by=alice
    )
    inbound = inbound_process(inbound_id=received.pk)
    assert inbound is not None and inbound.logged_email is not None, inbound
    return inbound, inbound.logged_email


def main(target: str) -> None:
    alice = User.objects.get(username="alice")
    admin = User.objects.get(username="admin")
    rep_token = addin_token_create(user=alice, name="schemathesis").key
    admin_token = addin_token_create(user=admin, name="schemathesis").key
    signed_out = addin_token_create(user=alice, name="schemathesis sign-out").key
    revoked = addin_token_create(user=alice, name="schemathesis revoke").token

    used, gone = _records(alice, "fuzzed"), _records(alice, "deleted")
    unlinked = _records(alice, "unlinked")
    inbound, logged = _logged(alice, used["contact"].primary_email, "Fuzz offer")
    _, deleted = _logged(alice, used["contact"].primary_email, "Fuzz deleted")
    tracked = tracked_email_register(
        user=alice,
        from_address=alice.email,
        to=[used["contact"].primary_email],
        cc=[],
        bcc=[],
        subject="Fuzz tracked",
        html='<p>Hi, <a href="https://example.com/offer">the offer</a></p>',
        track=True,
    ).email
    identity = sending_identity_add(user=alice, email="fuzz-alias@beacon.example")
    never = never_log_add(pattern="*@fuzz-never.example", user=alice)
    mute = notification_mute_add(user=alice, contact_id=used["contact"].pk)
    attachment = logged.attachments.get()

    # (path, method or "*", fixed path ids, token): for each option the first
    # operation entry that sets it wins, so the specific entries come first.
    rep, admin_ = rep_token, admin_token
    ids: list[tuple[str, str, dict[str, int], str]] = [
        ("/api/v1/addin/tokens/current/", "DELETE", {}, signed_out),
        ("/api/v1/addin/tokens/{id}/", "DELETE", {"id": revoked.pk}, rep),
        ("/api/v1/attachments/{id}/download/", "*", {"id": attachment.pk}, rep),
        ("/api/v1/emails/{id}/", "*", {"id": tracked.pk}, rep),
        ("/api/v1/emails/{id}/events/", "*", {"id": tracked.pk}, rep),
        ("/api/v1/emails/{id}/sent/", "*", {"id": tracked.pk}, rep),
        ("/api/v1/inbound/{id}/", "*", {"id": inbound.pk}, rep),
        ("/api/v1/logged-emails/{id}/", "DELETE", {"id": deleted.pk}, rep),
        ("/api/v1/settings/identities/{id}/", "*", {"id": identity.pk}, rep),
        ("/api/v1/settings/never-log/{id}/", "*", {"id": never.pk}, rep),
        ("/api/v1/settings/mutes/{id}/", "*", {"id": mute.pk}, rep),
        ("/api/v1/settings/account/", "PATCH", {}, admin_),
        ("/api/v1/settings/account/regenerate-bcc/", "*", {}, admin_),
    ]
    plurals = {"contact": "contacts", "company": "companies", "deal": "deals"}
    plurals["ticket"] = "tickets"
    for kind, plural in plurals.items():
        ids.append((f"/api/v1/{plural}/{{id}}/", "DELETE", {"id": gone[kind].pk}, rep))
    for left, right, other in LINKS:
        path = f"/api/v1/{plurals[left]}/{{id}}/{plurals[right]}/{{{other}}}/"
        pks = {"id": unlinked[left].pk, other: unlinked[right].pk}
        ids.append((path, "DELETE", pks, rep))
    # Every other path id: alice's logged email and records.
    ids.append(("^/api/v1/logged-emails/", "*", {"id": logged.pk}, rep))
    for kind, plural in plurals.items():
        ids.append((f"^/api/v1/{plural}/", "*", {"id": used[kind].pk}, rep))

    lines = [
        "# Written by .ci/schemathesis_setup.py for one run: tokens and ids of the fuzz database.",
        f"headers = {{ Authorization = {json.dumps('Token ' + rep_token)} }}",
        "",
    ]
    # Add-in tokens are made from a signed-in page (a session and its CSRF token),
    # never with a token: this one operation goes as the pages do.
    csrf = secrets.token_hex(16)
    lines += [
        "[[operations]]",
        'include-name = "POST /api/v1/addin/tokens/"',
        "generation = { with-security-parameters = false }",
        f'headers = {{ Authorization = "", Cookie = "sessionid={_session(alice)}; '
        f'csrftoken={csrf}", X-CSRFToken = "{csrf}" }}',
        "",
    ]
    for path, method, parameters, token in ids:
        lines.append("[[operations]]")
        # Filters of one entry are alternatives: "METHOD path" names one operation.
        if path.startswith("^"):
            lines.append(f"include-path-regex = {json.dumps(path)}")
        elif method == "*":
            lines.append(f"include-path = {json.dumps(path)}")
        else:
            lines.append(f"include-name = {json.dumps(method + ' ' + path)}")
        lines.append(f"headers = {{ Authorization = {json.dumps('Token ' + token)} }}")
        if parameters:
            fixed = ", ".join(
                f'"path.{name}" = {value}' for name, value in parameters.items()
            )
            lines.append(f"parameters = {{ {fixed} }}")
        lines.append("")
    with open(target, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])
