"""Our Message-IDs: signed, so that a reply threads into the ticket it answers and nothing else.

Every mail the helpdesk sends carries ``<hd.{ticket code}.{ref}.{signature}@{domain}>``, where
the signature is an HMAC of the code and *ref* keyed by the app's ``SECRET_KEY``. When a mail
comes in whose ``In-Reply-To``/``References`` name such an id, :func:`ticket_code_from_id`
returns the code only if the signature is right: a sender who invents or edits an id (to post
into someone else's ticket) gets ``None`` and their mail opens a new ticket.

Pure functions of their arguments plus the app's config, so tests and the benchmark share them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from functools import lru_cache

from flask import current_app

SIGNATURE_LENGTH = 20  # hex characters: 80 bits, far beyond guessing by mail
ADDRESS_SIGNATURE_LENGTH = 12  # 48 bits in a reply address (local parts stop at 64 characters)
_OUR_ID = re.compile(
    r"^hd\.(?P<code>[A-Za-z0-9-]{3,40})\.(?P<ref>[A-Za-z0-9]{1,40})\.(?P<sig>[0-9a-fA-F]+)@",
)


def _key() -> bytes:
    secret = current_app.config.get("SECRET_KEY")
    if not secret:
        raise RuntimeError("flask-helpdesk signs its Message-IDs with SECRET_KEY: set it")
    return _derived_key(secret if isinstance(secret, bytes) else str(secret).encode())


@lru_cache(maxsize=8)  # by the secret itself: a changed SECRET_KEY derives its own key
def _derived_key(secret: bytes) -> bytes:
    # A key of its own, so the signature reveals nothing usable elsewhere (sessions, CSRF).
    return hmac.new(secret, b"flask-helpdesk message-id", hashlib.sha256).digest()


def _sign(code: str, ref: str) -> str:
    data = f"{code.upper()}.{ref.lower()}".encode()
    return hmac.new(_key(), data, hashlib.sha256).hexdigest()[:SIGNATURE_LENGTH]


def mail_domain() -> str:
    """The domain part of our Message-IDs: ``HELPDESK_MAIL_DOMAIN``, else the sender's domain."""
    config = current_app.extensions["helpdesk"].config
    domain = config.get("HELPDESK_MAIL_DOMAIN")
    if not domain:
        sender = config.get("HELPDESK_MAIL_SENDER") or current_app.config.get("MAIL_DEFAULT_SENDER")
        if isinstance(sender, tuple | list):
            sender = sender[-1]
        domain = str(sender or "").rpartition("@")[2].strip("> ") or "helpdesk.invalid"
    return domain.lower()


def make_message_id(ticket_code: str, ref: str | None = None) -> str:
    """A signed Message-ID (without angle brackets) for a mail about ticket *ticket_code*.

    *ref* tells mails of one ticket apart: ``m42`` for the mail carrying message 42 to the
    customer, ``s42`` for the staff notification about it; None draws a random one.
    """
    ref = (ref or secrets.token_hex(6)).lower()
    return f"hd.{ticket_code.upper()}.{ref}.{_sign(ticket_code, ref)}@{mail_domain()}"


def ticket_code_from_id(message_id: str) -> str | None:
    """The ticket code in one of OUR Message-IDs, or None if it is not ours or is forged."""
    match = _OUR_ID.match(message_id.strip().strip("<>"))
    if not match:
        return None
    code, ref, signature = match["code"].upper(), match["ref"], match["sig"].lower()
    if not hmac.compare_digest(signature, _sign(code, ref)):
        return None
    return code


def is_ours(message_id: str) -> bool:
    """True when *message_id* is a correctly signed id the helpdesk generated."""
    return ticket_code_from_id(message_id) is not None


def ticket_code_from_ids(message_ids: Iterable[str]) -> str | None:
    """The ticket code of the first correctly signed id among *message_ids*."""
    for message_id in message_ids:
        code = ticket_code_from_id(message_id)
        if code:
            return code
    return None


def _sign_address(code: str) -> str:
    # Its own purpose in the HMAC: a reply address's tag is never a valid Message-ID's.
    return _sign(code, "reply-address")[:ADDRESS_SIGNATURE_LENGTH]


def reply_address(base: str, ticket_code: str) -> str:
    """The per-ticket reply address ``support+HD-4F7K2Q.5e0c9a1b7d2f@example.com`` for *base*.

    The tag after the code is an HMAC of it: a sender who writes to an address they made up
    from a ticket code (seen in a subject) cannot prove they received our mail."""
    local, _, domain = base.rpartition("@")
    local = local.split("+", 1)[0]
    code = ticket_code.upper()
    return f"{local}+{code}.{_sign_address(code)}@{domain}"


def code_from_plus_address(address: str, prefix: str) -> tuple[str, bool] | None:
    """The ticket code in a plus address and whether its signature is right, or None.

    ``support+hd-4f7k2q@...`` (no signature, as addresses were before) gives the code and
    False; a wrong signature gives None. Mail servers may change the local part's case."""
    local = address.rpartition("@")[0]
    _, plus, tag = local.partition("+")
    if not plus:
        return None
    signature = rf"(?:\.([0-9a-fA-F]{{{ADDRESS_SIGNATURE_LENGTH}}}))?"
    match = re.fullmatch(
        rf"({re.escape(prefix)})-([A-Za-z0-9]{{4,12}}){signature}", tag, re.IGNORECASE
    )
    if not match:
        return None
    code = f"{prefix}-{match.group(2).upper()}"
    signature = match.group(3)
    if signature is None:
        return code, False
    if not hmac.compare_digest(signature.lower(), _sign_address(code)):
        return None
    return code, True


def angle(message_id: str) -> str:
    """``<id>`` as it appears in a header."""
    return f"<{message_id.strip('<>')}>"


def references_header(message_ids: Iterable[str], limit: int = 20) -> str:
    """A ``References`` value of the thread: the first id and the most recent ones."""
    ids = [m for m in dict.fromkeys(message_ids) if m and "@" in m]
    if len(ids) > limit:
        ids = ids[:1] + ids[-(limit - 1) :]
    return " ".join(angle(m) for m in ids)
