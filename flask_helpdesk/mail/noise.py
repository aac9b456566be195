"""Recognise inbound mail that no person wrote: auto-replies, bulk mail and bounces.

A help desk that answers an out-of-office reply with an acknowledgement, which triggers another
out-of-office reply, loops forever; a bounce that opens a ticket buries the agents. The intake
layer therefore asks :func:`detect_noise` first and files such mail without opening or replying
to a ticket. Only headers are read, so the check is cheap and works on a half-parsed message.

The checks follow RFC 3834 (``Auto-Submitted``), RFC 3464 (delivery status notifications),
RFC 8098 (read receipts), RFC 2369/2919 (mailing-list headers) and the de-facto headers that
Exchange and common auto-responders set.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import enum
import re
from collections.abc import Iterable
from email.message import Message
from typing import Any

from .peek import escape_encoded_words


class NoiseReason(enum.StrEnum):
    """Why a mail was classified as noise. Values are stable strings, safe to store."""

    AUTO_REPLY = "auto-reply"  # out-of-office and other automatic answers to a person's mail
    AUTO_GENERATED = "auto-generated"  # notifications a machine sent on its own initiative
    BULK = "bulk"  # newsletters, marketing, anything sent to many recipients
    MAILING_LIST = "mailing-list"  # a discussion list relaying a post
    BOUNCE = "bounce"  # delivery failure reports
    READ_RECEIPT = "read-receipt"  # message disposition notifications


# Local parts that only mail servers use as senders; a mail from them is a bounce.
_DAEMON_SENDERS = re.compile(r"^(mailer-daemon|postmaster|mail-daemon|mailerdaemon)$", re.I)
# X-Auto-Response-Suppress (Exchange, Outlook) is not read: it asks the receiver not to answer
# automatically, it does not say the mail is automatic. Outlook writes "All" on mail people
# send (other help desks that took it for an auto-reply lost tens of good mails a day).


def _headers_of(mail: Any) -> list[tuple[str, str]]:
    """Return the (name, value) header pairs of a ParsedMail, a Message, or raw bytes/str."""
    if isinstance(mail, bytes | bytearray | memoryview):
        # Only headers are needed: the header parser stops at the blank line.
        message = email.message_from_bytes(bytes(mail), policy=email.policy.compat32)
        return [(name, str(value)) for name, value in message.raw_items()]
    if isinstance(mail, str):
        message = email.message_from_string(mail, policy=email.policy.compat32)
        return [(name, str(value)) for name, value in message.raw_items()]
    if isinstance(mail, Message):
        # raw_items() never runs the (strict) header parsers of the modern policy.
        return [(name, str(value)) for name, value in mail.raw_items()]
    headers = getattr(mail, "headers", None)
    if headers is None:
        raise TypeError(f"detect_noise() cannot read headers from {type(mail).__name__}")
    return list(headers)


def _content_type_params(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type value into its lowercased type and parameters."""
    holder = Message()
    holder["Content-Type"] = value
    params = {key.lower(): str(val).strip().lower() for key, val in holder.get_params()[1:]}
    return holder.get_content_type(), params


def detect_noise(
    mail: Any, *, allowed_list_ids: Iterable[str] = (), envelope_sender: str | None = None
) -> NoiseReason | None:
    """Return why *mail* should not open or update a ticket as a person's message, or ``None``.

    *mail* is a :class:`~flask_helpdesk.mail.parsing.ParsedMail`, an :class:`email.message.Message`
    or the raw bytes. *allowed_list_ids* names mailing lists the desk itself receives through
    (e.g. a Google Group used as the support alias): their ``List-Id`` alone is not noise.

    The result is a :class:`NoiseReason`, a ``str`` such as ``"auto-reply"`` or ``"bounce"``.
    Specific signals win over generic ones: an out-of-office reply sent with an empty
    Return-Path is reported as ``auto-reply``, not ``bounce``. *envelope_sender* is the SMTP
    ``MAIL FROM`` the mail server handed over, if any (``"<>"`` for the null sender, see
    :func:`~.peek.clean_envelope_sender`): the null sender or a mailer daemon is a bounce
    whatever the headers say.
    """
    headers: dict[str, list[str]] = {}
    for name, value in _headers_of(mail):
        # Unfold and trim so that a folded header compares like a single-line one.
        clean = re.sub(r"\r?\n[ \t]*", " ", str(value)).strip()
        headers.setdefault(name.lower(), []).append(clean)

    def first(name: str) -> str:
        values = headers.get(name)
        return values[0] if values else ""

    # Delivery reports are identified by their MIME structure, the most reliable signal.
    content_type, params = _content_type_params(first("content-type") or "text/plain")
    if content_type == "multipart/report":
        report_type = params.get("report-type", "")
        if report_type == "disposition-notification":
            return NoiseReason.READ_RECEIPT
        if report_type in ("delivery-status", "delivery-status-notification", ""):
            return NoiseReason.BOUNCE
    if headers.get("x-failed-recipients"):
        return NoiseReason.BOUNCE

    auto_submitted = first("auto-submitted").split(";")[0].strip().lower()
    if auto_submitted and auto_submitted != "no":
        if auto_submitted == "auto-replied":
            return NoiseReason.AUTO_REPLY
        return NoiseReason.AUTO_GENERATED

    for name in ("x-autoreply", "x-autorespond", "x-autoresponder"):
        value = first(name).lower()
        # Any value but an explicit "no"/"false" marks an auto-responder; some send it empty.
        if name in headers and value not in ("no", "false", "0"):
            return NoiseReason.AUTO_REPLY

    precedence = first("precedence").lower()
    if precedence in ("auto_reply", "auto-reply"):
        return NoiseReason.AUTO_REPLY
    if precedence in ("bulk", "junk"):
        return NoiseReason.BULK

    list_id = first("list-id").lower()
    allowed = {_list_id_key(item) for item in allowed_list_ids}
    if list_id and _list_id_key(list_id) not in allowed:
        return NoiseReason.MAILING_LIST
    if precedence == "list" and not (list_id and _list_id_key(list_id) in allowed):
        return NoiseReason.MAILING_LIST
    if headers.get("list-unsubscribe") and not list_id:
        return NoiseReason.BULK

    try:
        _, sender = email.utils.parseaddr(escape_encoded_words(first("from")))
    except RecursionError:  # comments nested a thousand deep: "((((…" (no address read)
        sender = ""
    if _DAEMON_SENDERS.match(sender.rpartition("@")[0] or sender):
        return NoiseReason.BOUNCE
    # The envelope is what the mail server saw: a bounce rewritten by a forwarder, or one
    # whose Return-Path was lost on the way, still came from the null sender or a daemon.
    if envelope_sender is not None:
        envelope = envelope_sender.strip()
        if envelope in ("<>", "") or _DAEMON_SENDERS.match(envelope.rpartition("@")[0] or envelope):
            return NoiseReason.BOUNCE
    # RFC 5321 null reverse-path: only servers send with it, and only for notifications.
    return_paths = headers.get("return-path", [])
    if return_paths and all(path.replace(" ", "") in ("<>", "") for path in return_paths):
        return NoiseReason.BOUNCE
    return None


def _list_id_key(value: str) -> str:
    """Reduce a List-Id header ("Support <support.example.com>") to its id, lowercased."""
    return (_bracketed(value) or value).strip().lower()


def _bracketed(value: str) -> str | None:
    """What the first ``<…>`` of *value* holds (not empty), as ``<([^>]+)>`` finds it, in
    linear time: that search went to the end of the value from every "<" (a List-Id of
    "<a" 40,000 times took ten seconds of a worker, on every try)."""
    start = value.find("<")
    while start >= 0:
        end = value.find(">", start + 1)
        if end < 0:
            return None
        if end > start + 1:
            return value[start + 1 : end]
        start = value.find("<", end)
    return None


# Local parts of addresses nobody reads: an automatic mail to them is wasted or starts a loop.
_ROBOT_LOCAL_PARTS = re.compile(
    r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|dont[-_.]?reply|bounces?|auto[-_.]?reply)([-+._].*)?$",
    re.I,
)


def is_robot_address(address: str) -> bool:
    """Whether *address* belongs to a machine (mailer-daemon, postmaster, no-reply, ...)."""
    local = (address or "").strip().rpartition("@")[0] or (address or "").strip()
    return bool(_DAEMON_SENDERS.match(local) or _ROBOT_LOCAL_PARTS.match(local))
