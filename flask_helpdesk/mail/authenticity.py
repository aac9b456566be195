"""Who really sent a mail: SPF, DKIM and DMARC verdicts for the ``From`` domain.

``From`` is whatever the sender typed; these checks say whether the domain in it vouches for
the mail. Sources, in order:

1. the ``Authentication-Results`` headers (RFC 8601) added by the host's own receiving server,
   trusted only when their authserv-id is one the host configured, and only the topmost ones
   (above the first ``Received`` header below them: anything lower came with the mail and
   anyone can write it);
2. our own check, with DNS through injectable resolvers bounded by a timeout: DKIM
   (``dkimpy``, the ``[mailauth]`` extra); SPF (:mod:`.spf`) of the envelope sender's
   domain against the connecting IP, which only the receiving server knows: it is read from
   the ``Received`` header our own server added (the host says which one, counted from the
   top), so without that setting SPF stays ``none``; and DMARC (:mod:`.dmarc`): the ``From``
   domain's policy and the alignment of what passed.

Pure logic: no database, no services. :func:`authenticate` is the one entry point.
"""

from __future__ import annotations

import email.parser
import email.policy
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import getaddresses
from time import monotonic
from typing import Any

from . import dmarc as dmarc_policy
from .headerblock import parse_block
from .peek import escape_encoded_words
from .spf import Lookup, check_host, dns_lookup

try:  # optional: pip install flask-helpdesk[mailauth]
    import dkim
except ImportError:  # pragma: no cover - exercised only without the extra
    dkim = None

PASS, FAIL, NONE = "pass", "fail", "none"
# A TXT lookup: (name, timeout in seconds) -> the record's bytes, or None when there is none.
TxtResolver = Callable[[str, float], bytes | None]
MAX_SIGNATURES = 5  # DKIM signatures checked per mail: each costs a DNS lookup

# What each source's result means for the badge: softfail and permerror (a broken record)
# vouch for nothing either; neutral and temperror say nothing.
_SPF = {"pass": PASS, "fail": FAIL, "softfail": FAIL, "permerror": FAIL}
_DKIM = {"pass": PASS, "fail": FAIL, "permerror": FAIL, "policy": FAIL}
_DMARC = {"pass": PASS, "fail": FAIL}


@dataclass(frozen=True)
class Verdict:
    """What the checks concluded; ``verified`` means the ``From`` domain vouches for the mail."""

    spf: str = NONE
    dkim: str = NONE
    dmarc: str = NONE
    source: str = NONE  # "server" (trusted header), "own" (our DKIM check) or "none"
    reason: str = ""

    @property
    def verified(self) -> bool:
        return self.dmarc == PASS

    @property
    def state(self) -> str:
        """The badge: ``verified``, ``failed`` (the domain's policy says not authentic) or
        ``unverified`` (nothing could vouch either way)."""
        if self.verified:
            return "verified"
        return "failed" if self.dmarc == FAIL else "unverified"


@dataclass
class Result:
    """One ``method=result`` of an Authentication-Results header, with its properties."""

    method: str
    result: str
    props: dict[str, str] = field(default_factory=dict)


# -- header parsing ---------------------------------------------------------------------------


def _strip_comments(value: str) -> str:
    """Drop RFC 5322 comments ``(...)`` (nested, escapes) outside quoted strings."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
        elif quoted:
            quoted = char != '"'
            out.append(char)
        elif char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            quoted = char == '"'
            out.append(char)
    return "".join(out)


def _split(value: str, sep: str) -> list[str]:
    """Split on *sep* outside quoted strings."""
    parts, current, quoted = [], [], False
    for char in value:
        if char == '"':
            quoted = not quoted
        if char == sep and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_authentication_results(value: str) -> tuple[str, list[Result]]:
    """``(authserv-id, results)`` of one header value; an unparsable one gives ``("", [])``."""
    text = _strip_comments(re.sub(r"\r?\n[ \t]", " ", value)).replace("\x00", "")
    pieces = _split(text, ";")
    head = pieces[0].split()
    if not head:
        return "", []
    results = []
    for piece in pieces[1:]:
        tokens = _split(piece.strip(), " ")
        tokens = [t for t in tokens if t]
        if not tokens or "=" not in tokens[0]:
            continue
        method, _sep, result = tokens[0].partition("=")
        props = {}
        for token in tokens[1:]:
            key, sep, val = token.partition("=")
            if sep:
                props[key.strip().lower()] = val.strip().strip('"').lower()
        results.append(Result(method.split("/")[0].strip().lower(), result.strip().lower(), props))
    return head[0].lower().rstrip("."), results


def trusted_results(
    headers: Iterable[tuple[str, str]], authserv_ids: Iterable[str]
) -> list[Result]:
    """Results of our own server's topmost headers; everything else is ignored.

    Scanning from the top, headers with one of *authserv_ids* are taken until the first
    ``Received`` header after one of them: that is where the mail entered our server, and
    anything below came with it. Within what is taken, the topmost result of a method wins
    (a server that does not strip old headers adds its own above them, RFC 8601 section 5).
    """
    ids = {i.strip().lower().rstrip(".") for i in authserv_ids if i and i.strip()}
    if not ids:
        return []
    taken: list[Result] = []
    seen_ours = False
    for name, value in headers:
        name = name.lower()
        if name == "received" and seen_ours:
            break
        if name != "authentication-results":
            continue
        server, results = parse_authentication_results(str(value))
        if server in ids:
            seen_ours = True
            taken += results
    return taken


# -- alignment --------------------------------------------------------------------------------


def _domain_of(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower()


def aligned(domain: str, from_domain: str) -> bool:
    """Relaxed DMARC alignment: the same organisational domain (:func:`.dmarc.org_domain`)."""
    return dmarc_policy.aligned(domain, from_domain)


def from_domain(headers: email.message.Message) -> tuple[str | None, str]:
    """The single ``From`` domain, or None with the reason (DMARC needs exactly one)."""
    values = headers.get_all("From") or []
    if len(values) != 1:
        return None, f"{len(values)} From headers"
    try:
        addresses = [a for _n, a in getaddresses([escape_encoded_words(str(values[0]))]) if a]
    except RecursionError:  # comments nested a thousand deep: "((((…"
        addresses = []
    if len(addresses) != 1 or "@" not in addresses[0]:
        return None, "the From header does not hold exactly one address"
    return _domain_of(addresses[0]) or None, ""


# -- verdicts ---------------------------------------------------------------------------------


def verdict_from_results(results: list[Result], domain: str) -> Verdict:
    """The verdict our server's results give for *domain* (topmost result per method wins)."""
    first: dict[str, Result] = {}
    for result in results:
        first.setdefault(result.method, result)
    spf = _SPF.get(first["spf"].result, NONE) if "spf" in first else NONE
    dkims = [r for r in results if r.method == "dkim"]
    dkim_value = NONE
    if any(r.result == "pass" for r in dkims):
        dkim_value = PASS
    elif any(_DKIM.get(r.result) == FAIL for r in dkims):
        dkim_value = FAIL
    dmarc_result = next(
        (
            r
            for r in results
            if r.method == "dmarc" and r.props.get("header.from", domain) == domain
        ),
        None,
    )
    if dmarc_result is not None:
        dmarc_value = _DMARC.get(dmarc_result.result, NONE)
        reason = f"dmarc={dmarc_result.result}"
    else:  # the server did not evaluate DMARC: alignment of what passed
        spf_aligned = spf == PASS and aligned(
            _domain_of(first["spf"].props.get("smtp.mailfrom", "")), domain
        )
        dkim_aligned = any(r.result == "pass" and aligned(_signer(r), domain) for r in dkims)
        dmarc_value = PASS if spf_aligned or dkim_aligned else NONE
        reason = (
            "aligned " + ("DKIM" if dkim_aligned else "SPF")
            if dmarc_value == PASS
            else ("no aligned SPF or DKIM pass")
        )
    return Verdict(
        spf, dkim_value, dmarc_value, "server", f"{reason} (spf={spf}, dkim={dkim_value})"
    )


def _signer(result: Result) -> str:
    return result.props.get("header.d") or _domain_of(result.props.get("header.i", ""))


@dataclass(frozen=True)
class ProviderVerdict:
    """What a provider's signed webhook post said (``"mailgun; spf=pass; dkim=pass"``)."""

    name: str
    spf: str = ""
    dkim: str = ""
    envelope_domain: str = ""

    @classmethod
    def parse(cls, value: str | None, envelope: str | None) -> ProviderVerdict | None:
        if not value:
            return None
        name, *pairs = [p.strip() for p in value.split(";")]
        tags = dict(p.partition("=")[::2] for p in pairs if "=" in p)
        domain = _domain_of(envelope or "") if envelope and "@" in envelope else ""
        return cls(name or "provider", tags.get("spf", ""), tags.get("dkim", ""), domain)


@dataclass(frozen=True)
class Connection:
    """Where the mail came from, as our own receiving server saw it (for SPF)."""

    ip: str
    helo: str
    sender: str  # the envelope sender (MAIL FROM); "" for a bounce's null sender


_FROM_CLAUSE = re.compile(r"^\s*from\s+(?P<helo>\S+)(?P<rest>.*?)(?:\sby\s|;|$)", re.I | re.S)
_BRACKETED_IP = re.compile(r"\[(?:ipv6:)?(?P<ip>[0-9a-f:.]+)\]", re.I)
_EXIM_HELO = re.compile(r"\bhelo=(?P<helo>[^\s)]+)", re.I)


def connection_of(
    headers: email.message.Message, hop: int, envelope: str | None
) -> Connection | str:
    """The connection recorded by our server's ``Received`` header, the *hop*-th from the top
    (1: the topmost, when our server is the last to add one), or why there is none.

    *envelope*: the envelope sender intake was handed; None reads the topmost
    ``Return-Path`` (written at delivery by the server that received the mail)."""
    received = headers.get_all("Received") or []
    if hop < 1 or len(received) < hop:
        return f"no Received header number {hop}"
    value = re.sub(r"\r?\n[ \t]+", " ", str(received[hop - 1]))
    clause = _FROM_CLAUSE.match(value)
    address = _BRACKETED_IP.search(clause["rest"]) if clause else None
    if clause is None or address is None:
        return f"no connecting IP in Received header number {hop}"
    exim_helo = _EXIM_HELO.search(clause["rest"])
    helo = (exim_helo["helo"] if exim_helo else clause["helo"]).strip("[]")
    if envelope is None:
        paths = headers.get_all("Return-Path") or []
        if not paths:
            return "no envelope sender (neither given with the mail nor a Return-Path)"
        envelope = str(paths[0])
    sender = envelope.strip().strip("<>").strip()
    return Connection(address["ip"], helo, sender)


def _dkim_check(
    raw: bytes, resolve: TxtResolver, timeout: float, signatures: int, notes: list[str]
) -> tuple[str, list[str], int]:
    """``(dkim result, domains whose signature verified, signatures seen)``."""
    if dkim is None:
        if signatures:
            notes.append("DKIM checks are not installed")
        return NONE, [], 0
    timed_out: list[str] = []

    def dnsfunc(name: bytes | str, timeout: float = timeout) -> bytes | None:
        text = name.decode("ascii", "replace") if isinstance(name, bytes) else name
        try:
            return resolve(text, timeout)
        except Exception as error:  # dkimpy reports a lookup failure only as "invalid"
            timed_out.append(text)
            raise dkim.DnsTimeoutError(str(error)) from error

    # dkimpy parses (and copies) the whole mail: only when there is a signature to check.
    checker = dkim.DKIM(raw, timeout=timeout) if signatures else None
    count = (
        sum(1 for name, _v in checker.headers if name.lower() == b"dkim-signature")
        if checker
        else 0
    )
    passed: list[str] = []
    temporary = False
    for index in range(min(count, MAX_SIGNATURES)):
        checker.domain = None
        lookups_failed = len(timed_out)
        try:
            ok = checker.verify(idx=index, dnsfunc=dnsfunc)
        except dkim.DKIMException as error:
            ok = False
            notes.append(str(error)[:100])
        signer = (checker.domain or b"").decode("ascii", "replace").lower()
        if len(timed_out) > lookups_failed:  # the key could not be fetched: no verdict
            notes.append(f"DNS timeout for the key of {signer or '?'}")
            temporary = True
        elif ok:
            passed.append(signer)
        else:
            notes.append(f"signature of {signer or '?'} did not verify")
    dkim_value = PASS if passed else (FAIL if count and not temporary else NONE)
    return dkim_value, passed, count


def own_check(
    raw: bytes,
    domain: str,
    txt: TxtResolver | None,
    timeout: float,
    signatures: int = 1,
    connection: Connection | str | None = None,
    lookup: Lookup | None = None,
    provider: ProviderVerdict | None = None,
) -> Verdict:
    """Our own DKIM and SPF checks, and DMARC: the domain's published policy and the
    alignment of what passed (RFC 7489).

    *connection*: where the mail came from, for SPF (a string says why that is unknown: SPF
    stays ``none``). A mail without an aligned pass fails only when the domain's policy asks
    receivers to refuse such mail (``p=quarantine``/``reject``); with ``p=none`` or no
    record it is merely not verified.
    """
    resolve = txt or default_txt
    notes: list[str] = []
    dkim_value, passed, count = _dkim_check(raw, resolve, timeout, signatures, notes)
    spf_value, spf_domain = NONE, ""
    if provider is not None and provider.spf and provider.envelope_domain:
        # The provider received the mail, so it knew the connecting IP: its SPF result is for
        # the envelope sender it handed over with the post.
        spf_value, spf_domain = _SPF.get(provider.spf, NONE), provider.envelope_domain
        notes.append(f"{provider.name}: spf={provider.spf} for {spf_domain}")
        if provider.dkim:
            notes.append(f"{provider.name}: dkim={provider.dkim}")
    elif isinstance(connection, Connection):
        spf = check_host(
            connection.ip, connection.sender, connection.helo, lookup or dns_lookup, timeout
        )
        spf_value, spf_domain = _SPF.get(spf.result, NONE), spf.domain
        notes.append(spf.reason)
    elif connection:
        notes.append(f"SPF not checked: {connection}")
    if domain in passed:  # aligned however the policy says to compare: no need to fetch it
        why = f"DKIM signature of {domain} verified"
        return Verdict(spf_value, dkim_value, PASS, "own", "; ".join([why, *notes])[:500])
    try:
        policy = dmarc_policy.fetch_policy(domain, resolve, timeout)
    except Exception:  # a DNS failure must not fail the mail: it stays unverified
        policy = None
        notes.append("DNS timeout for the DMARC policy")
    strict_dkim = policy is not None and policy.strict_dkim
    strict_spf = policy is not None and policy.strict_spf
    if any(dmarc_policy.aligned(signer, domain, strict_dkim) for signer in passed):
        why = f"DKIM signature of {domain} verified"
        return Verdict(spf_value, dkim_value, PASS, "own", "; ".join([why, *notes])[:500])
    if spf_value == PASS and dmarc_policy.aligned(spf_domain, domain, strict_spf):
        why = f"SPF of {spf_domain} passed, aligned with {domain}"
        return Verdict(spf_value, dkim_value, PASS, "own", "; ".join([why, *notes])[:500])
    if passed:
        notes.insert(0, f"signed by {', '.join(passed)}, not by {domain}")
    elif not count:
        notes.insert(0, "no DKIM signature")
    if spf_value == PASS:
        notes.append(f"SPF passed for {spf_domain}, not aligned with {domain}")
    dmarc_value = FAIL if policy is not None and policy.enforced else NONE
    described = policy.policy if policy else "none published"
    if policy is not None and (strict_dkim or strict_spf):
        described += " (strict alignment)"
    notes.append(f"DMARC policy of {domain}: {described}")
    return Verdict(spf_value, dkim_value, dmarc_value, "own", "; ".join(notes)[:500])


class CachedTxt:
    """A TXT resolver that remembers answers (absent records too) for *ttl* seconds, at most
    *max_entries* of them (the oldest go first), shared by the threads of one process; its
    :meth:`lookup` does the same for SPF's lookups through *lookup*.

    Failures (timeouts) are not remembered: the next mail asks again. Keys and policies
    change rarely and publishers expect caching (their records carry TTLs of hours), while
    a burst of mail from one domain would otherwise ask the same names for every mail."""

    def __init__(
        self,
        resolve: TxtResolver,
        ttl: float,
        max_entries: int = 2048,
        lookup: Lookup | None = None,
    ) -> None:
        self.resolve, self.ttl, self.max_entries = resolve, ttl, max_entries
        self.resolve_other = lookup or dns_lookup
        self._answers: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def _cached(self, key: Any, ask: Callable[[], Any]) -> Any:
        now = monotonic()
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        answer = ask()  # outside the lock: lookups run in parallel
        with self._lock:
            self._answers[key] = (now + self.ttl, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return answer

    def __call__(self, name: str, timeout: float) -> bytes | None:
        return self._cached(_txt_key(name), lambda: self.resolve(name, timeout))

    def lookup(self, name: str, rdtype: str, timeout: float) -> list[str]:
        key = _lookup_key(name, rdtype)
        return list(self._cached(key, lambda: self.resolve_other(name, rdtype, timeout)))

    def known(self, key: Any) -> tuple[bool, Any]:
        """``(True, answer)`` when *key*'s answer is cached and fresh, else ``(False, None)``;
        never asks the resolver."""
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and cached[0] > monotonic():
            return True, cached[1]
        return False, None

    def cache_only(self) -> CacheOnly:
        """A resolver answering from this cache alone (see :class:`CacheOnly`)."""
        return CacheOnly(self)


def _txt_key(name: str) -> str:
    return name.lower().rstrip(".")


def _lookup_key(name: str, rdtype: str) -> tuple[str, str]:
    return rdtype, name.lower().rstrip(".")


class CacheOnly:
    """A view of a :class:`CachedTxt` that never waits on DNS: what the cache holds is
    answered as the cache would, anything else as "no record", and :attr:`missed` says so.
    A check run through it whose :attr:`missed` is set is not the mail's verdict (intake
    throws it away and asks again outside its transaction, see ``mail_auth.check``)."""

    def __init__(self, cache: CachedTxt) -> None:
        self.cache = cache
        self.missed = False

    def _answer(self, key: Any) -> Any:
        found, answer = self.cache.known(key)
        if not found:
            self.missed = True
        return answer

    def __call__(self, name: str, timeout: float) -> bytes | None:
        return self._answer(_txt_key(name))

    def lookup(self, name: str, rdtype: str, timeout: float) -> list[str]:
        return list(self._answer(_lookup_key(name, rdtype)) or ())


def default_txt(name: str, timeout: float) -> bytes | None:
    from dkim.dnsplug import get_txt

    return get_txt(name.encode("idna"), timeout=timeout)


def authenticate(
    raw: bytes,
    authserv_ids: Iterable[str] = (),
    check_dkim: bool = True,
    txt: TxtResolver | None = None,
    timeout: float = 5.0,
    lookup: Lookup | None = None,
    received_hop: int = 0,
    envelope: str | None = None,
    provider: str | None = None,
) -> Verdict:
    """The verdict for one raw mail: our server's trusted results, else our own checks.

    *received_hop*: which ``Received`` header (from the top) our own server added, whose
    connecting IP SPF checks; 0 checks no SPF. *envelope*: the envelope sender, if known.
    *provider*: the verdict of a provider's signed webhook post (its SPF result stands in for
    our own SPF check).
    """
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[: min(ends)] if ends else raw  # the header block only: no copy of the body
    headers = parse_block(head)  # inline, intake parsed the same block a moment ago
    domain, problem = from_domain(headers)
    if domain is None:
        return Verdict(reason=problem)
    results = trusted_results(headers.items(), authserv_ids)
    if results:
        return verdict_from_results(results, domain)
    given = ProviderVerdict.parse(provider, envelope)
    if not check_dkim and not received_hop and given is None:
        return Verdict(reason="no trusted Authentication-Results")
    connection = connection_of(headers, received_hop, envelope) if received_hop else None
    signatures = len(headers.get_all("DKIM-Signature") or []) if check_dkim else 0
    return own_check(raw, domain, txt, timeout, signatures, connection, lookup, given)
