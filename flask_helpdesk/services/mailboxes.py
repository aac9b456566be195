"""IMAP mailboxes of the departments, and polling them (``flask helpdesk fetch-mail``).

Mailbox passwords are stored in the helpdesk's database as given. To keep a secret out of the
database, store ``env:NAME`` instead: the fetching process then reads environment variable NAME.
"""

from __future__ import annotations

import os

from sqlalchemy import select

from ..i18n import gettext as _
from ..mail.imap import MailboxError, fetch_mailbox
from ..models import Department, Mailbox, MailSecurity, utcnow
from . import audit, intake
from .base import ValidationError, commit, session
from .identity import Actor
from .permissions import ensure


def resolve_password(stored: str) -> str:
    """The password to log in with: the stored one, or the environment variable it names."""
    if stored.startswith("env:"):
        name = stored[4:].strip()
        value = os.environ.get(name)
        if value is None:
            raise ValueError(f"environment variable {name} (mailbox password) is not set")
        return value
    return stored


def create_mailbox(
    actor: Actor,
    department: Department,
    host: str,
    username: str,
    password: str,
    *,
    address: str | None = None,
    port: int | None = None,
    security: MailSecurity | str = MailSecurity.IMAPS,
    folder: str = "INBOX",
    processed_folder: str | None = None,
    verify_tls: bool = True,
    name: str = "",
) -> Mailbox:
    """Add an IMAP mailbox polled for *department* (admins only)."""
    ensure(actor, "manage")
    errors: dict[str, list[str]] = {}
    if not host.strip():
        errors["host"] = [_("Required.")]
    if not username.strip():
        errors["username"] = [_("Required.")]
    try:
        security = MailSecurity(security)
    except ValueError:
        errors["security"] = [_("Choose imaps, starttls or none.")]
    if port is not None and not 0 < int(port) < 65536:
        errors["port"] = [_("Not a port number.")]
    if errors:
        raise ValidationError(_("Please correct the errors below."), errors)
    mailbox = Mailbox(
        name=name or address or username,
        department_id=department.id,
        address=(address or "").strip().lower() or None,
        host=host.strip(),
        port=port,
        security=security,
        username=username.strip(),
        password=password,
        folder=folder or "INBOX",
        processed_folder=processed_folder or None,
        verify_tls=verify_tls,
        is_active=True,
    )
    session().add(mailbox)
    session().flush()
    audit.record(actor, "mailbox.created", None, mailbox_id=mailbox.id, host=mailbox.host)
    commit()
    return mailbox


def active_mailboxes() -> list[Mailbox]:
    return list(
        session().scalars(select(Mailbox).where(Mailbox.is_active.is_(True)).order_by(Mailbox.id))
    )


def fetch_all(mailboxes: list[Mailbox] | None = None) -> list[tuple[Mailbox, object]]:
    """Poll every active mailbox; one failing mailbox never stops the others.

    Returns ``(mailbox, FetchReport | error message)`` pairs; the error is also kept on the
    mailbox (``last_error``) for the admin page.
    """
    results: list[tuple[Mailbox, object]] = []
    for mailbox in mailboxes if mailboxes is not None else active_mailboxes():
        mailbox_id = mailbox.id
        try:
            report = fetch_mailbox(mailbox, resolve_password(mailbox.password), intake)
        except (MailboxError, ValueError) as exc:
            session().rollback()
            mailbox = session().get(Mailbox, mailbox_id)
            mailbox.last_error = str(exc)[:2000]
            mailbox.last_fetch_at = utcnow()
            commit()
            results.append((mailbox, str(exc)))
            continue
        mailbox = session().get(Mailbox, mailbox_id)
        mailbox.last_error = None
        mailbox.last_fetch_at = utcnow()
        commit()
        results.append((mailbox, report))
    return results
