"""Inbound mail: a redelivery is a duplicate only when its Message-ID **and** content match.

Before this revision ``dedup_key`` was the hash of the Message-ID alone, so a second, different
mail reusing a Message-ID (ServiceNow, Jira, monitoring tools) was answered "duplicate" and
never stored. From now on the key covers the Message-ID and a hash of the content
(flask_helpdesk/mail/fingerprint.py); this revision gives the rows already stored the new key,
so that a redelivery of a mail received before the upgrade is still recognised. The function is
copied here, not imported, so the revision keeps meaning what it meant (a test checks that both
give the same key). The raw mail is read in batches of 200 rows; see docs/migrations.rst.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:30:00
"""

import email.parser
import email.policy
import hashlib
import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 200
TRACE_FIELDS = frozenset(
    "received return-path delivered-to x-original-to envelope-to x-envelope-from x-envelope-to "
    "received-spf authentication-results arc-seal arc-message-signature "
    "arc-authentication-results x-received x-forwarded-to x-forwarded-for x-gm-message-state "
    "x-google-smtp-source x-ms-exchange-organization-authas x-virus-scanned "
    "x-original-arrival-time status x-status x-uid x-keywords lines content-length".split()
)
TRACE_PREFIXES = ("x-spam-", "x-ham-", "x-virus-", "x-amavis", "x-mailscanner")


def mail_key(raw: bytes) -> str:
    """flask_helpdesk.mail.fingerprint's key of *raw*, as of this revision."""
    prefix = raw[:4096]
    start = len(prefix) - len(prefix.lstrip(b"\r\n"))
    match = re.compile(rb"\r?\n\r?\n").search(raw, start)
    head, body = (
        (raw[start:], b"") if match is None else (raw[start : match.start()], raw[match.end() :])
    )
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    digest = hashlib.sha256()
    for name, value in headers.items():
        lowered = name.strip().lower()
        if lowered in TRACE_FIELDS or lowered.startswith(TRACE_PREFIXES):
            continue
        digest.update(lowered.encode("utf-8", "surrogateescape") + b":")
        digest.update(re.sub(r"\s+", " ", str(value)).strip().encode("utf-8", "surrogateescape"))
        digest.update(b"\n")
    digest.update(b"\n")
    rest = str(headers.get_payload() or "").replace("\r\n", "\n").strip("\r\n")
    digest.update(rest.encode("utf-8", "surrogateescape") + b"\n")
    digest.update(body.rstrip(b"\r\n").replace(b"\r\n", b"\n"))
    value = headers.get("Message-ID") or ""
    found = re.search(r"<([^<>]+)>", value) or re.search(r"(\S+@\S+)", value)
    message_id = ""
    if found:
        token = re.sub(r"\s+", "", found.group(1))
        local, at, domain = token.rpartition("@")
        message_id = f"{local}@{domain.lower()}" if at else token
    return hashlib.sha256(
        b"v2\0" + message_id.encode("utf-8", "surrogateescape") + b"\0"
        + digest.hexdigest().encode()
    ).hexdigest()  # fmt: skip


def upgrade() -> None:
    if op.get_context().as_sql:
        # An SQL script (``upgrade --sql``) cannot read the mail it would hash: the old rows
        # keep their keys, which only means a redelivery of one of them is stored again.
        return
    connection = op.get_bind()
    table = sa.table(
        "helpdesk_inbound_mail",
        sa.column("id", sa.Integer),
        sa.column("raw", sa.LargeBinary),
        sa.column("dedup_key", sa.String),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.raw)
            .where(table.c.id > last)
            .order_by(table.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for inbound_id, raw in rows:
            key = mail_key(bytes(raw or b""))
            taken = connection.execute(
                sa.select(table.c.id).where(table.c.dedup_key == key)
            ).first()
            if taken is not None:
                # Two rows that are one mail by the new key (a mail without Message-ID stored
                # twice, its trace fields differing): both stay, the later under its own key.
                key = hashlib.sha256(f"{key}:{inbound_id}".encode()).hexdigest()
            connection.execute(table.update().where(table.c.id == inbound_id).values(dedup_key=key))
        last = rows[-1][0]


def downgrade() -> None:
    # The old keys (the Message-ID's hash) cannot come back without merging rows; the new keys
    # stay unique, so the older code still runs (it only recognises fewer redeliveries).
    pass
