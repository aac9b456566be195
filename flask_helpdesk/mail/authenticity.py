"""Who really sent a mail: SPF, DKIM and DMARC verdicts for the ``From`` domain.

``From`` is whatever the sender typed; these checks say whether the domain in it vouches for
the mail. Sources, in order:

1. the ``Authentication-Results`` headers (RFC 8601) added by the host's own receiving server,
   trusted only when their authserv-id is one the host configured, and only the topmost ones
   (above the first ``Received`` header below them: anything lower came with the mail and
   anyone can write it);
2. our own DKIM check (``dkimpy``, the ``[mailauth]`` extra), with DNS through an injectable
   TXT resolver bounded by a timeout. SPF needs the connecting IP, which only the receiving
   server knows, so this check leaves SPF at ``none``.

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

try:  # optional: pip install flask-helpdesk[mailauth]
    import dkim
except ImportError:  # pragma: no cover - exercised only without the extra
    dkim = None

PASS, FAIL, NONE = "pass", "fail", "none"
# A TXT lookup: (name, timeout in seconds) -> the record's bytes, or None when there is none.
TxtResolver = Callable[[str, float], bytes | None]
MAX_SIGNATURES = 5  # DKIM signatures checked per mail: each costs a DNS lookup

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
    """Relaxed DMARC alignment, approximated without the public suffix list: one domain is
    the other or a subdomain of it (nobody can publish keys for a public suffix)."""
    domain, from_domain = domain.strip(".").lower(), from_domain.strip(".").lower()
    if not domain or not from_domain:
        return False
    if "." not in domain:  # a bare TLD aligns with nothing
        return False
    return (
        domain == from_domain
        or from_domain.endswith("." + domain)
        or domain.endswith("." + from_domain)
    )


def from_domain(headers: email.message.Message) -> tuple[str | None, str]:
    """The single ``From`` domain, or None with the reason (DMARC needs exactly one)."""
    values = headers.get_all("From") or []
    if len(values) != 1:
        return None, f"{len(values)} From headers"
    addresses = [a for _n, a in getaddresses([str(values[0])]) if a]
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


def _dmarc_policy(domain: str, txt: TxtResolver, timeout: float) -> str | None:
    """The ``p=`` of the domain's DMARC record (or its parent's), None without one."""
    labels = domain.split(".")
    names = [domain] + ([".".join(labels[-2:])] if len(labels) > 2 else [])
    for name in names:
        record = txt(f"_dmarc.{name}.", timeout)
        if record and record.lstrip().lower().startswith(b"v=dmarc1"):
            tags = dict(
                t.strip().partition("=")[::2] for t in record.decode("ascii", "replace").split(";")
            )
            return tags.get("p", "none").strip().lower() or "none"
    return None


def own_check(
    raw: bytes, domain: str, txt: TxtResolver | None, timeout: float, signatures: int = 1
) -> Verdict:
    """Our own DKIM check, and DMARC alignment from it plus the domain's published policy.

    SPF cannot be checked here, so a domain without an aligned DKIM signature fails only when
    its policy asks receivers to refuse such mail (``p=quarantine``/``reject``); with
    ``p=none`` or no record the mail is merely not verified.
    """
    if dkim is None:
        return Verdict(reason="no trusted Authentication-Results; DKIM checks are not installed")
    resolve = txt or default_txt

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
    passed, notes = [], []
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
    if any(aligned(signer, domain) for signer in passed):
        return Verdict(NONE, dkim_value, PASS, "own", f"DKIM signature of {domain} verified")
    try:
        policy = _dmarc_policy(domain, resolve, timeout)
    except Exception:  # a DNS failure must not fail the mail: it stays unverified
        policy = None
        notes.append("DNS timeout for the DMARC policy")
    if passed:
        notes.insert(0, f"signed by {', '.join(passed)}, not by {domain}")
    elif not count:
        notes.insert(0, "no DKIM signature")
    dmarc_value = FAIL if policy in ("quarantine", "reject") else NONE
    notes.append(f"DMARC policy of {domain}: {policy or 'none published'}")
    return Verdict(NONE, dkim_value, dmarc_value, "own", "; ".join(notes)[:500])


class CachedTxt:
    """A TXT resolver that remembers answers (absent records too) for *ttl* seconds, at most
    *max_entries* of them (the oldest go first), shared by the threads of one process.

    Failures (timeouts) are not remembered: the next mail asks again. Keys and policies
    change rarely and publishers expect caching (their records carry TTLs of hours), while
    a burst of mail from one domain would otherwise ask the same names for every mail."""

    def __init__(self, resolve: TxtResolver, ttl: float, max_entries: int = 2048) -> None:
        self.resolve, self.ttl, self.max_entries = resolve, ttl, max_entries
        self._answers: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, name: str, timeout: float) -> bytes | None:
        key = name.lower().rstrip(".")
        now = monotonic()
        with self._lock:
            cached = self._answers.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        answer = self.resolve(name, timeout)  # outside the lock: lookups run in parallel
        with self._lock:
            self._answers[key] = (now + self.ttl, answer)
            self._answers.move_to_end(key)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return answer


def default_txt(name: str, timeout: float) -> bytes | None:
    from dkim.dnsplug import get_txt

    return get_txt(name.encode("idna"), timeout=timeout)


def authenticate(
    raw: bytes,
    authserv_ids: Iterable[str] = (),
    check_dkim: bool = True,
    txt: TxtResolver | None = None,
    timeout: float = 5.0,
) -> Verdict:
    """The verdict for one raw mail: our server's trusted results, else our own DKIM check."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[: min(ends)] if ends else raw  # the header block only: no copy of the body
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(head)
    domain, problem = from_domain(headers)
    if domain is None:
        return Verdict(reason=problem)
    results = trusted_results(headers.items(), authserv_ids)
    if results:
        return verdict_from_results(results, domain)
    if not check_dkim:
        return Verdict(reason="no trusted Authentication-Results")
    return own_check(raw, domain, txt, timeout, len(headers.get_all("DKIM-Signature") or []))
