"""Builds the .eml messages the tests send, on the fly."""

from __future__ import annotations

from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime

from settings_admin.models import AccountSettings

BCC_DOMAIN = "bcc.beacon.localhost"


def message(
    *,
    sender: str = "alice@beacon.example",
    to: list[str] | None = None,
    cc: list[str] | None = None,
    subject: str = "Proposal",
    text: str = "Hello Anna,\nhere is the proposal.\n",
    html: str | None = "<p>Hello Anna,</p><p>here is the <b>proposal</b>.</p>",
    message_id: str | None = "<proposal-1@Mail.Beacon.Example>",
    in_reply_to: str | None = None,
    references: list[str] | None = None,
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = Address("Alice", addr_spec=sender)
    msg["To"] = ", ".join(to if to is not None else ["anna@acme.com"])
    if cc:
        msg["Cc"] = ", ".join(cc)
    msg["Subject"] = subject
    msg["Date"] = format_datetime(date or datetime(2026, 11, 2, 9, 30, tzinfo=UTC))
    if message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


def raw(msg: EmailMessage | MIMEMultipart) -> bytes:
    """The message as a mail client sends it: CRLF line endings."""
    return msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))


def with_attachment(
    msg: EmailMessage,
    *,
    data: bytes,
    filename: str,
    maintype: str = "application",
    subtype: str = "pdf",
) -> EmailMessage:
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def latin1_mime_multipart(*, message_id: str = "<latin@mail.beacon.example>") -> bytes:
    """An old-style MIMEMultipart with an ISO-8859-1 encoded-word subject and body."""
    outer = MIMEMultipart("alternative")
    outer["From"] = "Alice <alice@beacon.example>"
    outer["To"] = "anna@acme.com"
    outer["Subject"] = "=?iso-8859-1?q?Caf=E9_cr=E8me_br=FBl=E9e?="
    outer["Date"] = "Mon, 02 Nov 2026 09:30:00 +0000"
    outer["Message-ID"] = message_id
    outer.attach(MIMEText("Un café crème.\n", "plain", "iso-8859-1"))
    outer.attach(MIMEText("<p>Un café crème.</p>", "html", "iso-8859-1"))
    return raw(outer)


def personal_bcc(username: str = "alice", token: str = "") -> str:
    """A user's personal BCC address (mail on it is logged as that user)."""
    from django.contrib.auth.models import User

    from settings_admin.selectors import account_settings_get, user_settings_get

    own = user_settings_get(User.objects.get(username=username))
    local, _, domain = own.bcc_address(account_settings_get()).partition("@")
    return f"{local}+{token}@{domain}" if token else f"{local}@{domain}"


def bcc_address(account: AccountSettings, token: str = "") -> str:
    prefix = account.bcc_prefix
    secret = account.bcc_secret
    local = f"{prefix}+{secret}" + (f"+{token}" if token else "")
    return f"{local}@{BCC_DOMAIN}"
