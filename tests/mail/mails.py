"""Raw mails as mail clients write them, for the tests and ``bench/mail_ingest.py``.

No fixtures and no pytest here, so the benchmark can build its mails with the same helper.
"""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

_counter = itertools.count(1)


def make_mail(
    subject: str = "Cannot log in",
    body: str = "Hello, I cannot log in since yesterday.",
    sender: str = "Lan Nguyen <lan@example.com>",
    to: str = "support@example.com",
    message_id: str | None = "auto",
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    html: str | None = None,
    attachments: list[tuple[str, str, bytes]] = (),
    headers: dict[str, str] | None = None,
) -> bytes:
    """A raw RFC 5322 mail as a mail client would send it."""
    from datetime import UTC, datetime

    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    if message_id == "auto":
        message["Message-ID"] = make_msgid(f"t{next(_counter)}", domain="client.example.com")
    elif message_id:
        message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()
