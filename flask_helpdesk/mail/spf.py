"""Our own SPF check (RFC 7208): does the envelope sender's domain allow the connecting IP?

Written here rather than taken from a library: the one SPF library for Python has had no
release for years and does its DNS through a module-level hook, while this check must run
through the host's injectable resolver (tests serve records from a dict, nothing touches the
network) with a timeout per lookup. It is small: mechanisms ``all``, ``include``, ``a``,
``mx``, ``ip4``, ``ip6``, ``exists`` and ``ptr``, the ``redirect`` modifier, macros, and the
RFC's limits (10 lookups that query DNS, 2 lookups that answer nothing, 10 MX hosts).

Not done: ``ptr`` counts as a lookup but never matches (the RFC says not to publish it; a
reverse lookup per mail is not worth it), and ``exp=`` explanations are not fetched (they are
for the sender's bounce, and we do not refuse mail at SMTP time).

Pure logic, no Flask: :func:`check_host` is the entry point.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

# A DNS lookup: (name, "A" | "AAAA" | "MX" | "TXT", timeout) -> the answers ([] when the
# name has none: NXDOMAIN or no record of that type); raises on a failure (timeout,
# SERVFAIL). MX answers are the exchange host names, best preference first; TXT answers are
# each record's strings joined.
Lookup = Callable[[str, str, float], list[str]]

PASS, FAIL, SOFTFAIL, NEUTRAL = "pass", "fail", "softfail", "neutral"
NONE, PERMERROR, TEMPERROR = "none", "permerror", "temperror"

MAX_LOOKUPS = 10  # RFC 7208 4.6.4: terms that query DNS
MAX_VOID_LOOKUPS = 2  # ... of which answer nothing
MAX_MX = 10  # MX hosts looked up per "mx" term

_QUALIFIERS = {"+": PASS, "-": FAIL, "~": SOFTFAIL, "?": NEUTRAL}
_MECHANISM = re.compile(
    r"(?P<name>[a-z0-9]+)(?::(?P<arg>[^/]*))?(?P<cidr>(?:/\d{1,3})?(?://\d{1,3})?)",
    re.I,
)
_MODIFIER = re.compile(r"(?P<name>[a-z][a-z0-9_.-]*)=(?P<value>.*)", re.I)
_MACRO = re.compile(
    r"%(?:\{(?P<letter>[a-z])(?P<digits>\d*)(?P<rev>r?)(?P<delims>[.+,/_=-]*)\}|(.))", re.I
)


class DnsError(Exception):
    """A lookup could not be answered (timeout, server failure): try again later."""


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass(frozen=True)
class SpfResult:
    result: str  # one of the RFC's results: pass, fail, softfail, neutral, none, ...
    domain: str  # the domain whose policy was checked (envelope sender's, or the HELO name)
    reason: str


def _valid_domain(name: str) -> bool:
    labels = name.rstrip(".").split(".")
    return (
        len(labels) >= 2
        and len(name) <= 253
        and all(0 < len(label) <= 63 for label in labels)
        and not name.startswith(".")
    )


class _Check:
    def __init__(
        self,
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
        sender: str,
        helo: str,
        lookup: Lookup,
        timeout: float,
    ) -> None:
        self.ip, self.sender, self.helo = ip, sender, helo
        self.lookup, self.timeout = lookup, timeout
        self.lookups = self.void = 0

    # -- DNS, counted ---------------------------------------------------------------------

    def _query(self, name: str, rdtype: str) -> list[str]:
        try:
            return list(self.lookup(name, rdtype, self.timeout))
        except Exception as error:  # any resolver failure: the answer is not known
            raise _TempError(f"DNS lookup of {name} ({rdtype}) failed") from error

    def _count(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_LOOKUPS:
            raise _PermError(f"more than {MAX_LOOKUPS} DNS lookups")

    def _counted_void(self, answers: list[str]) -> list[str]:
        if not answers:
            self.void += 1
            if self.void > MAX_VOID_LOOKUPS:
                raise _PermError(f"more than {MAX_VOID_LOOKUPS} lookups found nothing")
        return answers

    def _addresses(self, name: str) -> list[str]:
        return self._query(name, "A" if self.ip.version == 4 else "AAAA")

    # -- the record -----------------------------------------------------------------------

    def _record(self, domain: str) -> str | None:
        records = [
            r.strip()
            for r in self._query(domain, "TXT")
            if r.strip().lower() == "v=spf1" or r.strip().lower().startswith("v=spf1 ")
        ]
        if len(records) > 1:
            raise _PermError(f"{domain} publishes {len(records)} SPF records")
        return records[0] if records else None

    def evaluate(self, domain: str) -> str:
        """check_host() of RFC 7208 section 4 for *domain*; raises for the error results."""
        if not _valid_domain(domain):
            return NONE
        record = self._record(domain)
        if record is None:
            return NONE
        directives: list[tuple[str, str, str | None, str]] = []
        redirect = None
        for term in record.split()[1:]:
            modifier = _MODIFIER.fullmatch(term)
            if modifier and ":" not in modifier["name"]:
                name = modifier["name"].lower()
                if name == "redirect":
                    if redirect is not None:
                        raise _PermError("two redirect= modifiers")
                    redirect = modifier["value"]
                continue  # exp= and unknown modifiers are ignored (RFC 7208 6)
            qualifier = _QUALIFIERS.get(term[0])
            body = term[1:] if qualifier else term
            mechanism = _MECHANISM.fullmatch(body)
            if mechanism is None:
                raise _PermError(f"unknown term {term[:40]!r}")
            name = mechanism["name"].lower()
            if name not in ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"):
                raise _PermError(f"unknown mechanism {name[:20]!r}")
            directives.append((qualifier or PASS, name, mechanism["arg"], mechanism["cidr"]))
        for result, name, arg, cidr in directives:
            if self._matches(domain, name, arg, cidr):
                return result
        if redirect is not None:
            self._count()
            target = self._expand(redirect, domain)
            result = self.evaluate(target)
            if result == NONE:
                raise _PermError(f"redirect to {target}, which has no SPF record")
            return result
        return NEUTRAL

    def _matches(self, domain: str, name: str, arg: str | None, cidr: str) -> bool:
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            return self._in_network(arg or "", cidr, name)
        if name == "include":
            if not arg:
                raise _PermError("include without a domain")
            self._count()
            target = self._expand(arg, domain)
            result = self.evaluate(target)
            if result == NONE:
                raise _PermError(f"include:{target} has no SPF record")
            return result == PASS
        target = self._expand(arg, domain) if arg else domain
        self._count()
        if name == "a":
            return self._any_in(self._counted_void(self._addresses(target)), cidr)
        if name == "mx":
            hosts = self._counted_void(self._query(target, "MX"))
            if len(hosts) > MAX_MX:
                raise _PermError(f"{target} has more than {MAX_MX} MX hosts")
            return any(self._any_in(self._addresses(host), cidr) for host in hosts)
        if name == "exists":
            if not arg:
                raise _PermError("exists without a domain")
            return bool(self._counted_void(self._query(target, "A")))
        return False  # ptr: counted, never matches (module docstring)

    def _any_in(self, addresses: list[str], cidr: str) -> bool:
        four, _sep, six = cidr.partition("//")
        prefix = (four.lstrip("/") if self.ip.version == 4 else six) or None
        for address in addresses:
            try:
                network = ipaddress.ip_network(
                    f"{address}/{prefix}" if prefix else address, strict=False
                )
            except ValueError:
                continue  # a bad answer matches nothing
            if self.ip in network:
                return True
        return False

    def _in_network(self, arg: str, cidr: str, kind: str) -> bool:
        if "//" in cidr:
            raise _PermError(f"{kind} with a dual prefix length")
        try:
            network = ipaddress.ip_network(arg + cidr, strict=False)
        except ValueError as error:
            raise _PermError(f"bad {kind} network {arg[:45]!r}") from error
        if network.version != (4 if kind == "ip4" else 6):
            raise _PermError(f"{kind} given a network of another family")
        return self.ip.version == network.version and self.ip in network

    # -- macros (RFC 7208 section 7) ------------------------------------------------------

    def _expand(self, spec: str, domain: str) -> str:
        local, _sep, sender_domain = self.sender.rpartition("@")

        def letter_value(letter: str) -> str:
            letter = letter.lower()
            if letter == "i":
                return (
                    str(self.ip)
                    if self.ip.version == 4
                    else ".".join(self.ip.exploded.replace(":", ""))
                )
            values = {
                "s": self.sender,
                "l": local or "postmaster",
                "o": sender_domain,
                "d": domain,
                "h": self.helo,
                "v": "in-addr" if self.ip.version == 4 else "ip6",
                "p": "unknown",
            }
            if letter not in values:
                raise _PermError(f"macro %{{{letter}}} is not allowed here")
            return values[letter]

        def replace(match: re.Match) -> str:
            if match["letter"] is None:
                escape = match.group(5)
                if escape in ("%", "_", "-"):
                    return {"%": "%", "_": " ", "-": "%20"}[escape]
                raise _PermError("a % in a domain is not a macro")
            parts = re.split(
                "[" + re.escape(match["delims"] or ".") + "]", letter_value(match["letter"])
            )
            if match["rev"]:
                parts.reverse()
            if match["digits"]:
                keep = int(match["digits"])
                if keep == 0:
                    raise _PermError("a macro keeping 0 parts")
                parts = parts[-keep:]
            return ".".join(parts)

        expanded = _MACRO.sub(replace, spec).rstrip(".")
        while len(expanded) > 253 and "." in expanded:  # RFC 7208 7.3: drop labels on the left
            expanded = expanded.partition(".")[2]
        return expanded


def check_host(ip: str, sender: str, helo: str, lookup: Lookup, timeout: float = 5.0) -> SpfResult:
    """The SPF result for mail from *ip* with envelope sender *sender* (empty for a bounce:
    the HELO name *helo* is checked instead, as ``postmaster@helo``)."""
    helo = (helo or "").strip().rstrip(".").lower()
    sender = (sender or "").strip().strip("<>").lower()
    if not sender:
        sender = f"postmaster@{helo}"
    elif "@" not in sender:
        sender = f"postmaster@{sender}"
    domain = sender.rpartition("@")[2]
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return SpfResult(NONE, domain, f"no usable connecting IP ({ip[:45]!r})")
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    check = _Check(address, sender, helo, lookup, timeout)
    try:
        result = check.evaluate(domain)
    except _PermError as error:
        return SpfResult(PERMERROR, domain, f"SPF of {domain}: {error}")
    except _TempError as error:
        return SpfResult(TEMPERROR, domain, f"SPF of {domain}: {error}")
    return SpfResult(result, domain, f"SPF of {domain}: {result} for {address}")


def dns_lookup(name: str, rdtype: str, timeout: float) -> list[str]:
    """:data:`Lookup` through dnspython's resolver (the system's servers)."""
    import dns.exception
    import dns.resolver

    try:
        answer = dns.resolver.resolve(name, rdtype, lifetime=timeout, search=False)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException as error:
        raise DnsError(f"{name} ({rdtype}): {error}") from error
    if rdtype == "TXT":
        return [b"".join(r.strings).decode("utf-8", "replace") for r in answer]
    if rdtype == "MX":
        best_first = sorted(answer, key=lambda r: r.preference)
        return [str(r.exchange).rstrip(".") for r in best_first]
    return [r.address for r in answer]
