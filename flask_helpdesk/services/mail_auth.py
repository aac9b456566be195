"""Sender authenticity of inbound mail: the verdict, what it allows, and what the desk shows.

The checks themselves are in :mod:`flask_helpdesk.mail.authenticity`. Intake asks
:func:`check` for a mail's verdict *before* it opens the transaction that stores the mail's
result (DNS may take seconds; no lock is held meanwhile), :func:`hold_reason` applies the
host's ``HELPDESK_MAIL_SENDER_POLICY`` to it, and :func:`store` writes it on the row with
the outcome.

The policy, in short (docs/security.rst): a ticket code in a subject is a convenience, never
proof. A mail whose sender is not verified threads into a customer's ticket only by one of
our signed Message-IDs; otherwise it opens a ticket of its own. A mail that *fails* (the
``From`` domain's DMARC policy disowns it) and claims an existing customer's address is held
for an agent instead of posting as them.
"""

from __future__ import annotations

import ipaddress
import logging
from dataclasses import dataclass
from email.utils import parseaddr
from operator import attrgetter
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app
from sqlalchemy import select

from ..i18n import gettext as _
from ..mail import dns_check
from ..mail.authenticity import CachedTxt, Verdict, authenticate, default_txt
from ..mail.dns_check import Finding
from ..mail.outbound import default_sender
from ..mail.spf import dns_lookup
from ..models import Contact, Message, Ticket
from ..state import current_helpdesk
from . import mail_routing as routing
from .base import session

logger = logging.getLogger("flask_helpdesk.mail.intake")

# How a reply was matched to its ticket that proves the sender received our mail: a signed
# Message-ID of ours or a signed reply address (mail/threading.py). A ticket code, an
# unsigned plus address or the sender's own earlier Message-ID can be read off a forwarded
# mail or a screenshot.
PROOF = frozenset({"message-id", "signed-plus-address"})

# Per app and configured resolver: the process's DNS cache (a test swaps resolvers).
_CACHES: WeakKeyDictionary[Any, tuple[Any, CachedTxt]] = WeakKeyDictionary()


def _resolver() -> CachedTxt | Any:
    """The TXT resolver of the checks, cached per process; its ``lookup`` answers SPF's."""
    config = current_helpdesk.config
    configured = config["HELPDESK_MAIL_DNS_RESOLVER"] or default_txt
    ttl = float(config["HELPDESK_MAIL_DNS_CACHE_SECONDS"])
    if ttl <= 0:
        return configured
    app = current_app._get_current_object()
    cached = _CACHES.get(app)
    if cached is None or cached[0] is not configured or cached[1].ttl != ttl:
        lookup = getattr(configured, "lookup", None)
        cached = (configured, CachedTxt(configured, ttl, lookup=lookup))
        _CACHES[app] = cached
    return cached[1]


def caches() -> bool:
    """Whether the checks' DNS answers are cached in this process (see
    :func:`check_from_cache`)."""
    return float(current_helpdesk.config["HELPDESK_MAIL_DNS_CACHE_SECONDS"]) > 0


def check(raw: bytes, envelope: str | None = None, provider: str | None = None) -> Verdict:
    """Who sent *raw*, by the host's settings. May wait on DNS: call it outside a transaction.

    *envelope*: the envelope sender intake was handed with the mail (for SPF), if any;
    *provider*: the verdict of a provider's signed webhook post, if any."""
    try:
        return _authenticate(raw, envelope, provider, _resolver())
    except Exception as error:  # a resolver's bug must not fail the mail: it is unverified
        logger.warning("sender check failed", exc_info=True)
        return Verdict(reason=f"the check failed: {type(error).__name__}")


def check_from_cache(
    raw: bytes, envelope: str | None = None, provider: str | None = None
) -> Verdict | None:
    """:func:`check` without any DNS lookup, for a caller holding a lock: the verdict when
    the process's DNS cache holds every answer it needs, else None (the cache is off, a name
    is not cached or has expired, the check failed), and the caller runs :func:`check`
    outside its transaction."""
    resolver = _resolver()
    if not isinstance(resolver, CachedTxt):
        return None
    cached = resolver.cache_only()
    try:
        verdict = _authenticate(raw, envelope, provider, cached)
    except Exception:  # check() runs it again, and logs it
        return None
    return None if cached.missed else verdict


def _authenticate(raw: bytes, envelope: str | None, provider: str | None, resolver: Any) -> Verdict:
    config = current_helpdesk.config
    return authenticate(
        raw or b"",
        authserv_ids=config["HELPDESK_MAIL_AUTHSERV_ID"] or (),
        check_dkim=config["HELPDESK_MAIL_CHECK_DKIM"],
        txt=resolver,
        timeout=float(config["HELPDESK_MAIL_DNS_TIMEOUT"]),
        lookup=getattr(resolver, "lookup", None),
        received_hop=config["HELPDESK_MAIL_RECEIVED_HOP"],
        envelope=envelope,
        provider=provider,
    )


def columns(verdict: Verdict) -> dict[str, object]:
    """The inbound row's columns that record *verdict*."""
    return {
        "auth_spf": verdict.spf,
        "auth_dkim": verdict.dkim,
        "auth_dmarc": verdict.dmarc,
        "sender_verified": verdict.verified,
        "auth_reason": f"{verdict.source}: {verdict.reason}"[:500],
    }


def _policy() -> str:
    return current_helpdesk.config["HELPDESK_MAIL_SENDER_POLICY"]


def _known_customer(address: str) -> bool:
    """Does *address* belong to someone the desk already knows (a contact or a host user)?"""
    address = routing.normalize_address(address)
    known = session().scalar(select(Contact.id).where(Contact.email == address).limit(1))
    return known is not None or current_helpdesk.user_by_email(address) is not None


def spoofing_reason(verdict: Verdict) -> str:
    return _("Possible spoofing: the sender could not be verified (%(why)s).", why=verdict.reason)


def hold_reason(verdict: Verdict, sender: str, as_participant: bool) -> str | None:
    """Why this mail must wait for an agent instead of posting as *sender*, or None.

    *as_participant*: the mail would post into a ticket as its requester or a participant.
    Otherwise it would open a new ticket in *sender*'s name. Only a failing mail (or, with
    the ``strict`` policy, any unverified one) that claims someone the desk knows is held.
    """
    policy = _policy()
    if policy == "off" or verdict.verified:
        return None
    if verdict.state != "failed" and policy != "strict":
        return None
    if as_participant or _known_customer(sender):
        return spoofing_reason(verdict)
    return None


def threads_as_sender(verdict: Verdict, how: str) -> bool:
    """May a mail matched to a ticket by *how* post there as its sender? A verified sender
    always; anyone else only with proof that they received our mail (:data:`PROOF`)."""
    return _policy() == "off" or verdict.verified or how in PROOF


@dataclass(frozen=True)
class HeldMail:
    id: int
    sender: str | None
    subject: str
    reason: str | None
    why: str  # what the check found, technical: "no DKIM signature; DMARC policy ..."


def sender_view(ticket: Ticket, thread: list[Message]) -> tuple[dict[int, Verdict], list[HeldMail]]:
    """The stored verdict of each mailed message of *thread*, and the mail held because it
    claimed to come from this ticket's people.

    Both come with what the page loaded already: ``messages.thread`` joins each message's
    checked inbound mail for the desk, and the desk's ticket load joins the held mail
    (``tickets.page_loads``); a ticket loaded without it reads it in one query here.
    The caller has already checked the reader may see the ticket; messages without a checked
    inbound mail (web replies, mail from before the check existed) have no verdict.
    """
    verdicts: dict[int, Verdict] = {}
    for message in thread:
        mail = message.inbound_mail
        if mail is not None:
            source, _sep, text = (mail.auth_reason or "").partition(": ")
            verdicts[message.id] = Verdict(
                mail.auth_spf, mail.auth_dkim, mail.auth_dmarc, source, text
            )
    waiting = [
        HeldMail(mail.id, mail.sender, mail.subject, mail.reason, _why(mail.auth_reason))
        for mail in sorted(ticket.held_mail, key=attrgetter("id"))
    ]
    return verdicts, waiting


def _why(reason: str | None) -> str:
    """What the check found, without its source ("dkim: no signature" -> "no signature")."""
    return (reason or "").partition(": ")[2]


def _mail_server_ips(lookup: Any, timeout: float) -> list[str]:
    """The addresses of Flask-Mail's ``MAIL_SERVER``; [] when it is local (the IP the world
    sees is then the machine's own, which only the host knows) or unset."""
    host = (current_app.config.get("MAIL_SERVER") or "").strip().strip("[]")
    if not host or host == "localhost" or host.startswith("127.") or host == "::1":
        return []
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    found: list[str] = []
    for rdtype in ("A", "AAAA"):
        try:
            found += lookup(host, rdtype, timeout)
        except Exception:  # reported as unknown below: the SPF record itself is still checked
            logger.warning("could not resolve MAIL_SERVER %s (%s)", host, rdtype)
    return found


def dns_findings(
    address: str | None = None,
    sending_ips: list[str] | None = None,
    selector: str | None = None,
) -> tuple[str, list[Finding]]:
    """What ``flask helpdesk check-mail-dns`` reports for the support address's domain.

    *address*: the support address (default: the mail sender setting); *sending_ips*: the IPs
    our mail leaves from (default: ``MAIL_SERVER``'s); *selector*: the DKIM selector to check
    when the helpdesk does not sign itself (its mail server does)."""
    config = current_helpdesk.config
    address = address or default_sender() or ""
    if isinstance(address, tuple):  # Flask-Mail's ("Name", "address") form
        address = address[1]
    domain = parseaddr(address)[1].rpartition("@")[2].strip().lower()
    if not domain:
        raise ValueError(
            "no support address: set HELPDESK_MAIL_SENDER (or MAIL_DEFAULT_SENDER) or give one"
        )
    txt = config["HELPDESK_MAIL_DNS_RESOLVER"] or default_txt
    lookup = getattr(txt, "lookup", None) or dns_lookup
    timeout = float(config["HELPDESK_MAIL_DNS_TIMEOUT"])
    if sending_ips is None:
        sending_ips = _mail_server_ips(lookup, timeout)
    key = config["HELPDESK_MAIL_DKIM_KEY"] if not selector else None
    selector = selector or config["HELPDESK_MAIL_DKIM_SELECTOR"]
    signing_domain = (key and config["HELPDESK_MAIL_DKIM_DOMAIN"]) or domain
    return domain, [
        *dns_check.check_spf(domain, sending_ips, lookup, timeout),
        *dns_check.check_dkim(signing_domain, selector, key, txt, timeout),
        *dns_check.check_dmarc(domain, txt, timeout),
    ]
