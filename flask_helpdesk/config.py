"""Every ``HELPDESK_*`` setting and its default, in one place.

The docs' configuration table is written from this module; add a key here first, then document it.
Options passed to :meth:`Helpdesk.init_app` win over the app's config, which wins over these.
``init_app`` checks every value against the type of its default here (and refuses unknown
``HELPDESK_*`` keys), see :mod:`flask_helpdesk.config_checks`: a new key needs one line in
:data:`DEFAULTS`, plus a line in ``config_checks.CHECKS`` only if its default is ``None`` or its
values need more than a type.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from .config_checks import ConfigError, check_settings, unknown_keys

DEFAULTS: dict[str, Any] = {
    # Mounting
    "HELPDESK_URL_PREFIX": "/support",
    "HELPDESK_DESK_URL_PREFIX": None,  # None: "<URL_PREFIX>/desk"
    "HELPDESK_API_URL_PREFIX": None,  # None: "<URL_PREFIX>/api/v1"
    "HELPDESK_BASE_TEMPLATE": "helpdesk/layout.html",
    "HELPDESK_SITE_NAME": "Support",
    # Who may show the helpdesk's pages in a frame (CSP frame-ancestors; "'self'" also sends
    # X-Frame-Options: SAMEORIGIN). None: no header, the host sends its own (docs/security.rst).
    "HELPDESK_FRAME_ANCESTORS": "'self'",
    # Database: None shares the host's default engine; a key uses SQLALCHEMY_BINDS[key].
    "HELPDESK_BIND_KEY": None,
    # Tickets
    "HELPDESK_TICKET_CODE_PREFIX": "HD",
    "HELPDESK_TICKETS_PER_PAGE": 25,
    "HELPDESK_QUEUE_COUNTERS_TTL": 0,  # seconds the desk's per-department counts are reused
    "HELPDESK_BULK_MAX_TICKETS": 100,  # tickets one bulk action on the queue may change
    "HELPDESK_SUBJECT_MAX_LENGTH": 200,
    "HELPDESK_MESSAGE_MAX_LENGTH": 50_000,
    # Attachments
    "HELPDESK_STORAGE_PATH": None,  # None: "<app.instance_path>/helpdesk-attachments"
    # "local" (the folder above) or "s3" (an S3-compatible bucket, the [s3] extra; docs/deployment)
    "HELPDESK_STORAGE_BACKEND": "local",
    "HELPDESK_S3_BUCKET": None,
    "HELPDESK_S3_PREFIX": "attachments/",  # object names start with this
    "HELPDESK_S3_ENDPOINT_URL": None,  # None: AWS; else MinIO, Ceph, R2... ("https://s3.internal")
    "HELPDESK_S3_REGION": None,  # None: boto3's own (AWS_DEFAULT_REGION)
    "HELPDESK_S3_ACCESS_KEY_ID": None,  # None: boto3's own chain (environment, instance role)
    "HELPDESK_S3_SECRET_ACCESS_KEY": None,
    "HELPDESK_ATTACHMENT_MAX_SIZE": 10 * 1024 * 1024,
    "HELPDESK_ATTACHMENT_MAX_COUNT": 10,
    "HELPDESK_ATTACHMENT_EXTENSIONS": frozenset(
        {
            "png",
            "jpg",
            "jpeg",
            "gif",
            "webp",
            "pdf",
            "txt",
            "csv",
            "log",
            "json",
            "xml",
            "doc",
            "docx",
            "xls",
            "xlsx",
            "ppt",
            "pptx",
            "odt",
            "ods",
            "zip",
            "gz",
            "eml",
        }
    ),
    # Logs (docs/deployment.rst): the request id's header (None: none), None/"text"/"json"
    "HELPDESK_REQUEST_ID_HEADER": "X-Request-ID",
    "HELPDESK_LOG_FORMAT": None,
    # Background jobs: None runs them inline after commit; a URL sends them to RQ.
    "HELPDESK_REDIS_URL": None,
    "HELPDESK_QUEUE_NAME": "helpdesk",
    "HELPDESK_JOB_RETRIES": 3,
    "HELPDESK_JOB_RETRY_INTERVALS": (10, 60, 300),  # seconds before retry 1, 2, 3 (last repeats)
    "HELPDESK_JOB_TIMEOUT": 300,  # seconds an RQ job may run before the worker kills it
    # Periodic sweeps (flask helpdesk scheduler / worker --with-scheduler; docs/sla.rst)
    "HELPDESK_SLA_SWEEP_INTERVAL": 60,  # seconds between two SLA escalation sweeps
    "HELPDESK_SLA_SWEEP_BATCH": 200,  # tickets one sweep transaction handles
    "HELPDESK_ACCESS_SWEEP_INTERVAL": 300,  # seconds between two access-grant expiry sweeps
    # Automation rules (docs/automation.rst)
    "HELPDESK_RULES_SWEEP_INTERVAL": 300,  # seconds between two time-rule sweeps
    "HELPDESK_RULES_SWEEP_BATCH": 500,  # tickets one time-rule sweep transaction handles
    "HELPDESK_RULES_CHAIN_LIMIT": 10,  # rounds of rules set off by rules, then a stop
    "HELPDESK_AUTO_MAIL_PER_TICKET": 3,  # automatic mails to one customer on one ticket
    "HELPDESK_AUTO_MAIL_PER_HOUR": 10,  # automatic mails to one address per hour
    # Reports (docs/reports.rst)
    "HELPDESK_REPORTS_TIMEZONE": "UTC",  # IANA zone whose midnights end the reports' days
    "HELPDESK_REPORTS_DEFAULT_DAYS": 30,  # the period a report shows when none is chosen
    "HELPDESK_REPORTS_MAX_DAYS": 366,  # the longest period one report may cover
    "HELPDESK_REPLY_RATING_MAX_AGE": timedelta(days=30),  # life of a reply mail's rating link
    "HELPDESK_DISTRIBUTION_SWEEP_INTERVAL": 60,  # seconds between two distribution catch-ups
    # Mail out
    "HELPDESK_MAIL_SENDER": None,  # None: MAIL_DEFAULT_SENDER
    "HELPDESK_MAIL_BACKEND": None,  # None: "flask-mail" if Flask-Mail is set up, else "log"
    "HELPDESK_NOTIFY_EMAILS": (),  # who hears about new tickets in departments without agents
    # Base of the links in mail and SMS ("https://shop.example.com", may include a path).
    # None: SERVER_NAME (+ APPLICATION_ROOT, PREFERRED_URL_SCHEME), else the current request's
    # host. Set it when jobs run on RQ: a worker has no request to take the host from.
    "HELPDESK_EXTERNAL_URL": None,
    # Mail in (docs/email.rst). Intake: IMAP mailboxes (Mailbox rows), the webhook, stdin pipe.
    "HELPDESK_INBOUND_MAIL_TOKEN": None,  # secret of POST <prefix>/hooks/mail; None: hook off
    "HELPDESK_INBOUND_MAIL_MAX_SIZE": 25 * 1024 * 1024,  # bytes; larger mail is set aside
    "HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT": "600/minute",  # requests per client IP; None: off
    "HELPDESK_MAIL_RATE_LIMIT": "20/hour",  # mails per sender address; beyond: ignored
    "HELPDESK_MAIL_DEFAULT_DEPARTMENT": None,  # slug for mail no mailbox/address routes
    "HELPDESK_MAIL_STALE_AFTER": 300,  # seconds before a sweep retakes a stuck mail
    "HELPDESK_MAIL_MAX_ATTEMPTS": 5,  # automatic tries of a failing mail (admins retry more)
    "HELPDESK_MAIL_PROCESS_TIMEOUT": 120,  # seconds one mail may take when processed inline
    "HELPDESK_MAIL_ALLOW_REMOTE_IMAGES": False,  # keep remote <img> in stored mail HTML
    "HELPDESK_MAIL_ALLOWED_LIST_IDS": (),  # List-Ids the desk itself receives through
    "HELPDESK_MAIL_DOMAIN": None,  # domain of our Message-IDs; None: the sender's domain
    "HELPDESK_MAIL_PLUS_ADDRESSING": False,
    # DKIM-signing our own mail (docs/email.rst): the private key (PEM text or a file's path),
    # its selector, and the signing domain (None: each mail's sender domain). No key: unsigned.
    "HELPDESK_MAIL_DKIM_KEY": None,
    "HELPDESK_MAIL_DKIM_SELECTOR": None,
    "HELPDESK_MAIL_DKIM_DOMAIN": None,  # Reply-To support+HD-XXXXXX@... per ticket
    # Sender authenticity (docs/email.rst): the authserv-id(s) of our own receiving server,
    # whose Authentication-Results headers are trusted; None trusts none and checks DKIM here.
    "HELPDESK_MAIL_AUTHSERV_ID": None,
    "HELPDESK_MAIL_CHECK_DKIM": True,  # our own DKIM check when no trusted header (dkimpy)
    "HELPDESK_MAIL_DNS_TIMEOUT": 5,  # seconds one DNS lookup of that check may take
    "HELPDESK_MAIL_DNS_RESOLVER": None,  # callable(name, timeout) -> TXT bytes; None: dnspython
    # Which Received header (from the top) our own receiving server adds: its connecting IP
    # is what our SPF check tests; 0: SPF is not checked here (docs/email.rst).
    "HELPDESK_MAIL_RECEIVED_HOP": 0,
    # Mailgun's webhook signing key: its signed inbound posts' SPF verdict is then trusted.
    "HELPDESK_MAILGUN_SIGNING_KEY": None,
    # Spam learning (docs/automation.rst): agents' spam / not-spam marks train the filter.
    "HELPDESK_SPAM_FILTER": True,  # score new customer tickets; False: marks still train
    "HELPDESK_SPAM_THRESHOLD": 0.9,  # score (0..1) at or above which a ticket is spam
    "HELPDESK_SPAM_MIN_TRAINING": 50,  # spam and good tickets each, before it quarantines
    "HELPDESK_SPAM_TRUST_UPSTREAM": True,  # X-Spam-Flag: YES etc. from our mail server
    "HELPDESK_MAIL_DNS_CACHE_SECONDS": 300,  # how long one process reuses a DNS answer; 0: never
    # What an unverified sender may do (docs/security.rst): "hold" (mail failing DMARC that
    # claims a customer is held for an agent), "strict" (also mail merely not verified), "off".
    "HELPDESK_MAIL_SENDER_POLICY": "hold",
    # JSON API (docs/api.rst)
    "HELPDESK_API_RATE_LIMIT": "600/minute",  # calls per token (or per logged-in user); None: off
    # Outgoing webhooks (docs/api.rst)
    "HELPDESK_WEBHOOK_TIMEOUT": 10.0,  # seconds a receiver may take to answer
    "HELPDESK_WEBHOOK_DISABLE_AFTER": 50,  # failed attempts in a row before an endpoint is off
    "HELPDESK_WEBHOOK_DISABLE_AFTER_HOURS": 24,  # ... and failing for at least this long
    "HELPDESK_WEBHOOK_ALLOW_PRIVATE": False,  # allow private/loopback receivers (SSRF guard off)
    # Knowledge base and help center (docs/knowledge-base.rst)
    "HELPDESK_HELP_CENTER_PUBLIC": True,  # visitors who are not logged in may read it
    "HELPDESK_ARTICLE_SUGGESTIONS": 5,  # articles suggested while a request is typed; 0: off
    # The help center's contact form for visitors who are not logged in (issue 15)
    "HELPDESK_CONTACT_FORM": True,  # offer it to visitors; False: they log in to write
    "HELPDESK_CONTACT_FORM_VERIFY": True,  # ticket only once the address is confirmed by mail
    "HELPDESK_CONTACT_FORM_LINK_MAX_AGE": timedelta(days=2),  # life of a confirmation link
    "HELPDESK_CONTACT_FORM_KEEP": timedelta(days=30),  # unconfirmed requests are then deleted
    "HELPDESK_CONTACT_FORM_RATE_LIMIT": "10/hour",  # sends per client IP; None: off
    "HELPDESK_CONTACT_FORM_ADDRESS_RATE_LIMIT": "3/hour",  # sends per email address; None: off
    # i18n
    "HELPDESK_LANGUAGES": ("en", "vi", "fa"),
    "HELPDESK_DEFAULT_LOCALE": "en",
    "HELPDESK_RTL_LANGUAGES": frozenset({"fa", "ar", "he", "ur"}),
    # Account access with consent
    "HELPDESK_ACCESS_GRANT_DURATION": timedelta(hours=24),
    "HELPDESK_ACCESS_GRANT_MAX_DURATION": timedelta(hours=72),
    "HELPDESK_ACCESS_REQUEST_ROLES": ("agent", "lead", "admin"),  # agent roles that may ask
    # Endpoints never reachable while an agent acts as a customer, besides those decorated with
    # @never_impersonated (the helpdesk's own grant answers are). Rating is the customer's voice.
    "HELPDESK_ACCESS_REFUSED_ENDPOINTS": ("helpdesk.rate",),
}


__all__ = ["DEFAULTS", "ConfigError", "config_value", "resolve_config"]


def config_value(app: Flask, key: str) -> Any:
    """Read one setting of *app*: its resolved value as stored by ``init_app``."""
    state = app.extensions["helpdesk"]
    return state.config[key]


def resolve_config(app: Flask, options: dict[str, Any]) -> dict[str, Any]:
    """Merge defaults, the app's config and the ``init_app`` options into one dict.

    Options may be given in short form (``url_prefix=...``) or as full keys. Every value is
    checked (and plain strings coerced) here, when the app starts: a :class:`ConfigError` names
    a misspelt key or a value of the wrong type (see :mod:`flask_helpdesk.config_checks`).
    """
    problems = unknown_keys(app.config, DEFAULTS)
    if problems:
        raise ConfigError("; ".join(problems))
    resolved = {key: app.config.get(key, default) for key, default in DEFAULTS.items()}
    for name, value in options.items():
        key = name if name.startswith("HELPDESK_") else f"HELPDESK_{name.upper()}"
        if key not in DEFAULTS:
            raise TypeError(f"Unknown helpdesk option {name!r}")
        resolved[key] = value
    resolved = check_settings(resolved, DEFAULTS)
    prefix = resolved["HELPDESK_URL_PREFIX"].rstrip("/")
    resolved["HELPDESK_URL_PREFIX"] = prefix
    if resolved["HELPDESK_DESK_URL_PREFIX"] is None:
        resolved["HELPDESK_DESK_URL_PREFIX"] = f"{prefix}/desk"
    if resolved["HELPDESK_API_URL_PREFIX"] is None:
        resolved["HELPDESK_API_URL_PREFIX"] = f"{prefix}/api/v1"
    return resolved
