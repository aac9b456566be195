"""Checking the ``HELPDESK_*`` settings when the app starts, not on a customer's first request.

Each value is checked against its default in :data:`flask_helpdesk.config.DEFAULTS`: a setting
whose default is an int must be a whole number, a tuple default takes a list (or a string of
comma-separated items, as environment variables give), and so on. Strings that plainly mean a
value of the right type are coerced (``"25"`` → 25, ``"10MB"`` → 10485760, ``"24h"`` →
``timedelta(hours=24)``); anything else is a :class:`ConfigError` naming the key, the value and
what would do. A new setting needs nothing here unless its default is ``None`` or its values
need more than a type: then add a line to :data:`CHECKS`.
"""

from __future__ import annotations

import difflib
import importlib.util
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click


class ConfigError(click.ClickException, ValueError):
    """A ``HELPDESK_*`` setting is misspelt, of the wrong type or out of range.

    Also a :class:`click.ClickException`: when the app is created for a ``flask`` command
    (``flask helpdesk worker`` without the ``[redis]`` extra, say), the command line shows the
    message as ``Error: ...`` instead of a traceback."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]i?b?|b)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$", re.IGNORECASE)
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_RATE = re.compile(r"^\s*\d+\s*/\s*(second|minute|hour|day)s?\s*$", re.IGNORECASE)
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
MAIL_BACKENDS = (None, "flask-mail", "log")
STORAGE_BACKENDS = ("local", "s3")  # flask_helpdesk.storage.STORAGE_KINDS
AGENT_ROLES = ("agent", "lead", "admin")
SENDER_POLICIES = ("hold", "strict", "off")


def _fail(key: str, value: Any, wanted: str) -> ConfigError:
    return ConfigError(f"{key} must be {wanted}; got {value!r}")


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise _fail(key, value, "True or False")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise _fail(key, value, "a whole number")


def _as_size(key: str, value: Any) -> int:
    """Bytes: a number, or a string such as ``"10MB"``/``"512 KiB"`` (units of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    match = _SIZE.match(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(key, value, 'a number of bytes or a size such as "10MB"')
    unit = (match.group(2) or "").lower()[:1]
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def _as_duration(key: str, value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    match = _DURATION.match(value) if isinstance(value, str) else None
    if match is None:
        raise _fail(key, value, 'a datetime.timedelta or a string such as "24h", "90m", "2d"')
    return timedelta(**{_DURATION_UNITS[match.group(2).lower()]: float(match.group(1))})


def _as_items(key: str, value: Any, default: tuple | frozenset) -> Any:
    if isinstance(value, str):
        value = [item.strip() for item in value.split(",") if item.strip()]
    if not isinstance(value, list | tuple | set | frozenset):
        raise _fail(key, value, "a list of values (or a comma-separated string)")
    sample = next(iter(default), None)
    if isinstance(sample, int):
        value = [_as_int(key, item) for item in value]
    return frozenset(value) if isinstance(default, frozenset) else tuple(value)


def coerce_like_default(key: str, value: Any, default: Any) -> Any:
    """*value* as the type of *default* (None defaults take anything: see :data:`CHECKS`)."""
    if value is None or default is None:
        return value
    if isinstance(default, bool):
        return _as_bool(key, value)
    if isinstance(default, int):
        return _as_int(key, value)
    if isinstance(default, timedelta):
        return _as_duration(key, value)
    if isinstance(default, tuple | frozenset):
        return _as_items(key, value, default)
    if isinstance(default, str) and not isinstance(value, str):
        raise _fail(key, value, "a string")
    return value


# -- checks beyond the type ---------------------------------------------------------------------
def _at_least(minimum: int, maximum: int | None = None) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value < minimum or (maximum is not None and value > maximum):
            wanted = f"at least {minimum}" + (f" and at most {maximum}" if maximum else "")
            raise _fail(key, value, wanted)
        return value

    return check


def _fraction(minimum: float) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if not minimum <= value <= 1:
            raise _fail(key, value, f"a number from {minimum} to 1")
        return value

    return check


def _size(key: str, value: Any) -> int:
    return _at_least(1)(key, _as_size(key, value))


def _redis_url(key: str, value: Any) -> str | None:
    if not value:
        return None
    if not isinstance(value, str) or not value.startswith(REDIS_SCHEMES):
        raise _fail(key, value, "a URL starting with redis://, rediss:// or unix://")
    missing = [name for name in ("redis", "rq") if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigError(
            f"{key} is set but {' and '.join(missing)} not installed: "
            "pip install 'flask-helpdesk[redis]', or unset it to run jobs inline"
        )
    return value


def _one_of(*choices: Any) -> Callable[[str, Any], Any]:
    def check(key: str, value: Any) -> Any:
        if value not in choices:
            raise _fail(key, value, "one of " + ", ".join(repr(c) for c in choices))
        return value

    return check


def _locales(key: str, value: tuple) -> tuple:
    from babel import Locale, UnknownLocaleError

    for locale in value:
        try:
            Locale.parse(locale)
        except (UnknownLocaleError, ValueError, TypeError):
            raise _fail(
                key, value, "locale codes Babel knows (such as 'en', 'vi', 'pt_BR')"
            ) from None
    if not value:
        raise _fail(key, value, "at least one locale")
    return value


def _rate(key: str, value: Any) -> Any:
    if not value or (isinstance(value, list | tuple) and len(value) == 2):
        return value
    if isinstance(value, str) and _RATE.match(value):
        return value
    raise _fail(key, value, 'a rate such as "20/hour" (second, minute, hour, day) or None')


def _url_prefix(key: str, value: Any) -> Any:
    if value is not None and (not isinstance(value, str) or (value and value[0] != "/")):
        raise _fail(key, value, 'a path starting with "/", such as "/support"')
    return value


def _http_url(key: str, value: Any) -> Any:
    if value and (not isinstance(value, str) or not value.startswith(("http://", "https://"))):
        raise _fail(key, value, 'an http(s) URL such as "https://shop.example.com"')
    return value


def _roles(key: str, value: tuple) -> tuple:
    if not set(value) <= set(AGENT_ROLES):
        raise _fail(key, value, "agent roles among " + ", ".join(AGENT_ROLES))
    return value


# Checks run after the type coercion, for keys whose default alone does not say enough.
def _authserv_ids(key: str, value: Any) -> tuple[str, ...]:
    """One authserv-id, several separated by commas, or a list of them."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not all(
        isinstance(item, str) for item in items
    ):
        raise _fail(key, value, "a host name or a list of them")
    return tuple(item.strip().lower() for item in items if item.strip())


def _callable(key: str, value: Any) -> Any:
    if not callable(value):
        raise _fail(key, value, "a callable")
    return value


def _timezone(key: str, value: Any) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(key, value, 'an IANA time zone such as "Asia/Ho_Chi_Minh"') from None
    return value


_LABELS = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(?:\.(?!-)[a-z0-9_-]{1,63}(?<!-))*$", re.I)


def _dkim_key(key: str, value: Any) -> bytes:
    """The PEM text of an RSA private key, given as the text itself or a file's path; loaded
    now, so a wrong key stops the start instead of every mail's sending."""
    if importlib.util.find_spec("dkim") is None:
        raise ConfigError(f"{key} needs DKIM support: pip install flask-helpdesk[mailauth]")
    if isinstance(value, str) and "-----BEGIN" not in value:
        try:
            with open(value, "rb") as handle:
                value = handle.read()
        except OSError as error:
            raise ConfigError(f"{key}: cannot read the key file {value!r}: {error}") from None
    if isinstance(value, str):
        value = value.encode("ascii", "replace")
    if not isinstance(value, bytes):
        raise _fail(key, value, "an RSA private key in PEM form, or the path of a file with one")
    from dkim.asn1 import ASN1FormatError
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key

    try:
        parse_pem_private_key(value)
    except (UnparsableKeyError, ASN1FormatError, ValueError, TypeError, IndexError) as error:
        raise ConfigError(
            f"{key} is not an RSA private key in PEM form ({error or 'unparsable'})"
        ) from None
    return value


def _dns_name(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _LABELS.match(value.strip().rstrip(".")):
        raise _fail(key, value, "a DNS name such as s1 or example.com")
    return value.strip().rstrip(".").lower()


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "HELPDESK_URL_PREFIX": _url_prefix,
    "HELPDESK_DESK_URL_PREFIX": _url_prefix,
    "HELPDESK_API_URL_PREFIX": _url_prefix,
    "HELPDESK_TICKETS_PER_PAGE": _at_least(1),
    "HELPDESK_BULK_MAX_TICKETS": _at_least(1),
    "HELPDESK_SUBJECT_MAX_LENGTH": _at_least(1, 255),
    "HELPDESK_MESSAGE_MAX_LENGTH": _at_least(1),
    "HELPDESK_ATTACHMENT_MAX_SIZE": _size,
    "HELPDESK_ATTACHMENT_MAX_COUNT": _at_least(0),
    "HELPDESK_INBOUND_MAIL_MAX_SIZE": _size,
    "HELPDESK_REDIS_URL": _redis_url,
    "HELPDESK_STORAGE_BACKEND": _one_of(*STORAGE_BACKENDS),
    "HELPDESK_LOG_FORMAT": _one_of(None, "text", "json"),
    "HELPDESK_S3_ENDPOINT_URL": _http_url,
    "HELPDESK_JOB_RETRIES": _at_least(0),
    "HELPDESK_SLA_SWEEP_INTERVAL": _at_least(1),
    "HELPDESK_SLA_SWEEP_BATCH": _at_least(1, 10_000),
    "HELPDESK_ACCESS_SWEEP_INTERVAL": _at_least(1),
    "HELPDESK_RULES_SWEEP_INTERVAL": _at_least(1),
    "HELPDESK_RULES_SWEEP_BATCH": _at_least(1, 10_000),
    "HELPDESK_RULES_CHAIN_LIMIT": _at_least(1, 100),
    "HELPDESK_AUTO_MAIL_PER_TICKET": _at_least(0),
    "HELPDESK_AUTO_MAIL_PER_HOUR": _at_least(0),
    "HELPDESK_DISTRIBUTION_SWEEP_INTERVAL": _at_least(1),
    "HELPDESK_MAIL_BACKEND": _one_of(*MAIL_BACKENDS),
    "HELPDESK_EXTERNAL_URL": _http_url,
    "HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT": _rate,
    "HELPDESK_MAIL_RATE_LIMIT": _rate,
    "HELPDESK_MAIL_AUTHSERV_ID": _authserv_ids,
    "HELPDESK_MAIL_DNS_TIMEOUT": _at_least(1, 60),
    "HELPDESK_MAIL_DNS_RESOLVER": _callable,
    "HELPDESK_MAIL_RECEIVED_HOP": _at_least(0, 20),
    "HELPDESK_MAIL_DKIM_KEY": _dkim_key,
    "HELPDESK_MAIL_DKIM_SELECTOR": _dns_name,
    "HELPDESK_MAIL_DKIM_DOMAIN": _dns_name,
    "HELPDESK_SPAM_THRESHOLD": _fraction(0.5),
    "HELPDESK_SPAM_MIN_TRAINING": _at_least(0),
    "HELPDESK_MAIL_DNS_CACHE_SECONDS": _at_least(0, 86400),
    "HELPDESK_MAIL_SENDER_POLICY": _one_of(*SENDER_POLICIES),
    "HELPDESK_API_RATE_LIMIT": _rate,
    "HELPDESK_CONTACT_FORM_RATE_LIMIT": _rate,
    "HELPDESK_CONTACT_FORM_ADDRESS_RATE_LIMIT": _rate,
    "HELPDESK_WEBHOOK_DISABLE_AFTER": _at_least(0),
    "HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS": _at_least(0),
    "HELPDESK_REPORTS_TIMEZONE": _timezone,
    "HELPDESK_REPORTS_DEFAULT_DAYS": _at_least(1, 3660),
    "HELPDESK_REPORTS_MAX_DAYS": _at_least(1, 3660),
    "HELPDESK_LANGUAGES": _locales,
    "HELPDESK_ACCESS_REQUEST_ROLES": _roles,
}

# Keys checked as sizes are coerced by their check, not as the int their default is.
_OWN_COERCION = {"HELPDESK_ATTACHMENT_MAX_SIZE", "HELPDESK_INBOUND_MAIL_MAX_SIZE"}


def unknown_keys(config: Any, known: Any) -> list[str]:
    """``HELPDESK_*`` keys in *config* that are no setting, each with its likely meaning."""
    problems = []
    for key in sorted(k for k in config if isinstance(k, str) and k.startswith("HELPDESK_")):
        if key in known:
            continue
        close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else " (see the configuration docs)"
        problems.append(f"{key} is not a flask-helpdesk setting{hint}")
    if config.get("HELPDESK_MAIL_DKIM_KEY") and not config.get("HELPDESK_MAIL_DKIM_SELECTOR"):
        problems.append(
            "HELPDESK_MAIL_DKIM_KEY needs HELPDESK_MAIL_DKIM_SELECTOR: the selector under which"
            " its public key is published (<selector>._domainkey.<domain>)"
        )
    return problems


def _storage_problems(config: dict[str, Any]) -> list[str]:
    """The S3 backend needs a bucket and boto3; say so at start, not at the first upload."""
    if config.get("HELPDESK_STORAGE_BACKEND") != "s3":
        return []
    problems = []
    if not config.get("HELPDESK_S3_BUCKET"):
        problems.append('HELPDESK_STORAGE_BACKEND is "s3" but HELPDESK_S3_BUCKET is not set')
    if importlib.util.find_spec("boto3") is None:
        problems.append(
            'HELPDESK_STORAGE_BACKEND is "s3" but boto3 is not installed:'
            " pip install 'flask-helpdesk[s3]'"
        )
    return problems


def check_settings(resolved: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Coerce and check every setting; one :class:`ConfigError` lists every problem found."""
    problems: list[str] = []
    checked = dict(resolved)
    for key, value in resolved.items():
        try:
            if key not in _OWN_COERCION:
                value = coerce_like_default(key, value, defaults.get(key))
            check = CHECKS.get(key)
            checked[key] = check(key, value) if check and value is not None else value
        except ConfigError as error:
            problems.append(str(error))
    problems += _cross_checks(checked)
    if problems:
        raise ConfigError("flask-helpdesk settings: " + "; ".join(problems))
    return checked


def _cross_checks(config: dict[str, Any]) -> list[str]:
    problems = []
    languages = config.get("HELPDESK_LANGUAGES") or ()
    if config.get("HELPDESK_DEFAULT_LOCALE") not in languages:
        problems.append(
            f"HELPDESK_DEFAULT_LOCALE {config.get('HELPDESK_DEFAULT_LOCALE')!r} must be one of"
            f" HELPDESK_LANGUAGES {tuple(languages)!r}"
        )
    duration = config.get("HELPDESK_ACCESS_GRANT_DURATION")
    longest = config.get("HELPDESK_ACCESS_GRANT_MAX_DURATION")
    if (
        isinstance(duration, timedelta)
        and isinstance(longest, timedelta)
        and not timedelta(0) < duration <= longest
    ):
        problems.append(
            "HELPDESK_ACCESS_GRANT_DURATION must be more than zero and at most"
            f" HELPDESK_ACCESS_GRANT_MAX_DURATION ({longest})"
        )
    if config.get("HELPDESK_MAIL_DKIM_KEY") and not config.get("HELPDESK_MAIL_DKIM_SELECTOR"):
        problems.append(
            "HELPDESK_MAIL_DKIM_KEY needs HELPDESK_MAIL_DKIM_SELECTOR: the selector under which"
            " its public key is published (<selector>._domainkey.<domain>)"
        )
    return problems + _storage_problems(config)
