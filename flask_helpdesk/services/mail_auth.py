"""Sender authenticity of inbound mail: the verdict stored on the row, read for the desk.

The checks themselves are in :mod:`flask_helpdesk.mail.authenticity`; this module reads the
host's settings, stores the verdict with the mail (inside the intake's unit of work, so it is
committed with whatever the mail became) and hands the desk each message's verdict.
"""

from __future__ import annotations

from sqlalchemy import select

from ..mail.authenticity import Verdict, authenticate
from ..models import InboundMail, Message
from ..state import current_helpdesk
from .base import session


def record_verdict(row: InboundMail) -> Verdict:
    """Check who sent *row* and store the verdict on it (no commit: the caller's unit)."""
    config = current_helpdesk.config
    verdict = authenticate(
        row.raw or b"",
        authserv_ids=config["HELPDESK_MAIL_AUTHSERV_ID"] or (),
        check_dkim=config["HELPDESK_MAIL_CHECK_DKIM"],
        txt=config["HELPDESK_MAIL_DNS_RESOLVER"],
        timeout=float(config["HELPDESK_MAIL_DNS_TIMEOUT"]),
    )
    row.auth_spf, row.auth_dkim, row.auth_dmarc = verdict.spf, verdict.dkim, verdict.dmarc
    row.sender_verified = verdict.verified
    row.auth_reason = f"{verdict.source}: {verdict.reason}"[:500]
    return verdict


def verdicts_for(thread: list[Message]) -> dict[int, Verdict]:
    """The stored verdict of each message of *thread* that came by mail, in one query.

    The caller has already checked the reader may see the thread; messages without a checked
    inbound mail (web replies, mail from before the check existed) have none.
    """
    ids = [m.id for m in thread]
    if not ids:
        return {}
    rows = session().execute(
        select(
            InboundMail.posted_message_id,
            InboundMail.auth_spf,
            InboundMail.auth_dkim,
            InboundMail.auth_dmarc,
            InboundMail.auth_reason,
        ).where(InboundMail.posted_message_id.in_(ids), InboundMail.auth_dmarc.is_not(None))
    )
    verdicts = {}
    for message_id, spf, dkim, dmarc, reason in rows:
        source, _sep, text = (reason or "").partition(": ")
        verdicts[message_id] = Verdict(spf, dkim, dmarc, source, text)
    return verdicts
