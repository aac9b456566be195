"""DMARC (RFC 7489): the ``From`` domain's published policy and identifier alignment.

The organisational domain (what relaxed alignment compares, and where a subdomain's policy
is looked up) comes from a small built-in list of public suffixes with more than one label
(``co.uk``, ``com.au``, ``com.vn`` ...); any other domain's organisational domain is its
last two labels. Its limit: suffixes missing from the list, and the private ones where
anyone can take a name (hosting platforms' ``<you>.example-pages.test``), are treated as
organisations, so two unrelated names under them align in relaxed mode. A domain owner who
wants exactness publishes ``adkim=s; aspf=s`` (strict alignment, compared name for name).

Pure logic, no Flask, no network: DNS through the caller's TXT resolver.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

TxtResolver = Callable[[str, float], bytes | None]

# Public suffixes of two labels seen in mail; single-label ones (com, vn, ir ...) need no list.
MULTI_LABEL_SUFFIXES = frozenset(
    f"{second}.{top}"
    for top, seconds in {
        "uk": "co org ac gov me ltd plc net nhs sch police",
        "au": "com net org edu gov asn id",
        "nz": "co org net ac govt school geek",
        "jp": "co ne or ac go ad ed gr lg",
        "kr": "co or ne ac go re pe",
        "cn": "com net org edu gov ac",
        "tw": "com net org edu gov idv",
        "hk": "com net org edu gov idv",
        "vn": "com net org edu gov int ac biz info name pro health",
        "ir": "co ac org id net gov sch",
        "in": "co net org firm gen ind ac edu gov res",
        "br": "com net org gov edu art blog eco emp ind inf",
        "mx": "com net org edu gob",
        "ar": "com net org edu gob int",
        "za": "co org net ac gov edu web",
        "il": "co org net ac gov k12 muni",
        "tr": "com net org edu gov biz info gen web",
        "sg": "com net org edu gov per",
        "my": "com net org edu gov name",
        "id": "co or ac go web net my sch",
        "th": "co or ac go in net",
        "ph": "com net org edu gov",
        "pk": "com net org edu gov",
        "sa": "com net org edu gov med",
        "eg": "com net org edu gov",
        "ua": "com net org edu gov in",
        "ru": "com net org msk spb",
        "pl": "com net org biz info waw",
    }.items()
    for second in seconds.split()
)

PASS, FAIL, NONE = "pass", "fail", "none"


def org_domain(domain: str) -> str:
    """The organisational domain of *domain* (module docstring for its limits)."""
    labels = domain.strip(".").lower().split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(identifier: str, from_domain: str, strict: bool = False) -> bool:
    """Is *identifier* (a DKIM ``d=`` or an SPF-checked domain) aligned with *from_domain*?"""
    identifier, from_domain = identifier.strip(".").lower(), from_domain.strip(".").lower()
    if not identifier or not from_domain or "." not in identifier:
        return False  # a bare TLD aligns with nothing
    if strict:
        return identifier == from_domain
    return org_domain(identifier) == org_domain(from_domain)


@dataclass(frozen=True)
class Policy:
    """A DMARC record as it applies to one ``From`` domain."""

    domain: str  # where the record was found: the From domain or its organisational domain
    policy: str  # what applies to this From domain: "none", "quarantine" or "reject"
    strict_dkim: bool = False
    strict_spf: bool = False

    @property
    def enforced(self) -> bool:
        return self.policy in ("quarantine", "reject")


def parse(record: bytes | str) -> dict[str, str] | None:
    """The tags of a DMARC record, or None when it is not one (``v=DMARC1`` first)."""
    text = record.decode("ascii", "replace") if isinstance(record, bytes) else record
    tags: dict[str, str] = {}
    for part in text.split(";"):
        key, sep, value = part.strip().partition("=")
        if sep:
            tags.setdefault(key.strip().lower(), value.strip())
    if tags.get("v", "").upper() != "DMARC1" or not text.lstrip().lower().startswith("v"):
        return None
    return tags


def fetch_policy(from_domain: str, txt: TxtResolver, timeout: float) -> Policy | None:
    """The policy for *from_domain*: its own record, else its organisational domain's (whose
    ``sp=`` applies to subdomains). None: no record. DNS failures raise."""
    from_domain = from_domain.strip(".").lower()
    organisation = org_domain(from_domain)
    for name in dict.fromkeys((from_domain, organisation)):
        record = txt(f"_dmarc.{name}.", timeout)
        tags = parse(record) if record else None
        if tags is None:
            continue
        policy = tags.get("p", "").lower()
        if name != from_domain and tags.get("sp"):
            policy = tags["sp"].lower()
        if policy not in ("none", "quarantine", "reject"):
            # RFC 7489 6.6.3: an invalid p= with a valid rua= is treated as p=none.
            policy = "none"
        return Policy(
            name,
            policy,
            strict_dkim=tags.get("adkim", "r").lower() == "s",
            strict_spf=tags.get("aspf", "r").lower() == "s",
        )
    return None
