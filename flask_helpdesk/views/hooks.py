"""Inbound webhooks: ``POST <prefix>/hooks/mail`` takes one raw RFC 5322 mail from a provider.

Authenticated by the shared secret ``HELPDESK_INBOUND_MAIL_TOKEN`` (``Authorization: Bearer``,
``X-Helpdesk-Token`` or ``?token=``), compared in constant time. The body is the raw mail (or a
form/JSON field holding it, as some providers post it: :data:`RAW_FIELDS`); the answer is 202
once it is stored (processing follows as a job), so a provider retries on any other status and
nothing is lost.

A provider that signs its posts vouches for the SPF/DKIM verdict fields it sends: with
``HELPDESK_MAILGUN_SIGNING_KEY`` set, a Mailgun post whose ``signature`` verifies (HMAC-SHA256
of ``timestamp`` + ``token``, at most :data:`SIGNATURE_MAX_AGE` old) gives its SPF result as a
source of the sender verdict (:func:`_provider_verdict`); an unsigned or badly signed post's
fields are ignored (the mail is still taken: the shared secret authenticated the post).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from flask import Blueprint, abort, current_app, jsonify, request
from sqlalchemy import select

from ..models import Department
from ..ratelimit import FixedWindow
from ..services import intake
from ..services.base import session
from ..services.mail_posting import parse_rate
from ..state import current_helpdesk

bp = Blueprint("helpdesk_hooks", __name__)


def _given_token() -> str:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.headers.get("X-Helpdesk-Token", "") or request.args.get("token", "")


def _authenticate() -> None:
    expected = current_helpdesk.config["HELPDESK_INBOUND_MAIL_TOKEN"]
    if not expected:
        abort(404)  # the hook is off until a secret is configured
    # Counted before the secret is checked: a wrong guess costs one of the client's requests,
    # so the secret cannot be guessed faster than the limit allows.
    _rate_limit()
    given = _given_token()
    if not given:
        response = jsonify(error="missing token")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="helpdesk-mail"'
        abort(response)
    if not hmac.compare_digest(given.encode(), str(expected).encode()):
        abort(403)


_window = FixedWindow("hook-rate")


def _rate_limit() -> None:
    rate = parse_rate(current_helpdesk.config["HELPDESK_INBOUND_WEBHOOK_RATE_LIMIT"])
    if rate is None:
        return
    count, seconds = rate
    if _window.hit(request.remote_addr or "-", seconds)[0] > count:
        response = jsonify(error="too many requests")
        response.status_code = 429
        response.headers["Retry-After"] = str(seconds)
        abort(response)


# Where providers that post a form or JSON put the whole raw mail: Mailgun's MIME route
# ("body-mime"), SendGrid's Inbound Parse with "POST the raw, full MIME message" ("email"),
# Postmark's inbound JSON with raw content on ("RawEmail"); "raw"/"message" for the rest.
RAW_FIELDS = ("body-mime", "email", "RawEmail", "raw", "message")


def _mail_bytes(text: str) -> bytes:
    """A mail posted as text, as bytes: raw bytes kept as surrogate escapes come back as
    they were; half a UTF-16 pair (JSON may escape one) is kept as its bytes too, which the
    parser reads as undecodable text, rather than failing the post."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")


def _raw_mail(limit: int | None) -> bytes:
    """The raw mail of the request: its body, or the field/file a provider put it in."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        for name in RAW_FIELDS:
            if request.form.get(name):
                return _mail_bytes(request.form[name])
        for upload in request.files.values():
            return upload.read(limit + 1 if limit else -1)
        return b""
    if request.is_json:
        data = request.get_json(silent=True)
        for name in RAW_FIELDS if isinstance(data, dict) else ():
            if isinstance(data.get(name), str) and data[name]:
                return _mail_bytes(data[name])
        return b""
    return request.stream.read(limit + 1 if limit else -1)


def _envelope_sender() -> str | None:
    """The SMTP envelope sender given with the mail: ``?sender=``, else a form's ``sender``
    field (Mailgun's routes post it), else a JSON body's ``sender``; None when absent."""
    if "sender" in request.args:
        return request.args["sender"]
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return request.form.get("sender")
    if request.is_json:
        data = request.get_json(silent=True)
        value = data.get("sender") if isinstance(data, dict) else None
        return value if isinstance(value, str) else None
    return None


SIGNATURE_MAX_AGE = 15 * 60  # seconds; older signed posts could be replays
_RESULT = {"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}


def _mailgun_signed() -> bool:
    key = current_helpdesk.config["HELPDESK_MAILGUN_SIGNING_KEY"]
    if not key or request.mimetype not in (
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    ):
        return False
    timestamp, token = request.form.get("timestamp", ""), request.form.get("token", "")
    signature = request.form.get("signature", "")
    if not (timestamp.isdigit() and token and signature):
        return False
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE:
        return False
    expected = hmac.new(str(key).encode(), (timestamp + token).encode(), hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), signature.strip().lower())


def _mailgun_headers(raw: bytes) -> list[tuple[str, str]]:
    """Mailgun's own headers: the parsed post's ``message-headers`` (a JSON list, in order),
    else the raw mail's headers above its first ``Received`` (Mailgun writes its verdicts on
    top; one lower down came with the mail)."""
    listed = request.form.get("message-headers")
    if listed:
        try:
            pairs = json.loads(listed)
            return [(str(k), str(v)) for k, v in pairs if isinstance(k, str)]
        except (ValueError, TypeError):
            return []
    found = []
    for line in raw.split(b"\n", 200)[:200]:
        name, sep, value = line.decode("utf-8", "replace").partition(":")
        if not line.strip() or name.lower() == "received":
            break
        if sep:
            found.append((name.strip(), value.strip()))
    return found


def _provider_verdict(raw: bytes) -> str | None:
    """``"mailgun; spf=pass; dkim=pass"`` from a verified Mailgun post, else None."""
    if not _mailgun_signed():
        return None
    spf = dkim = ""
    for name, value in _mailgun_headers(raw):
        name, value = name.lower(), value.strip().lower()
        if name == "x-mailgun-spf" and not spf and value in _RESULT:
            spf = value
        elif name == "x-mailgun-dkim-check-result" and not dkim and value in _RESULT:
            dkim = value
    if not (spf or dkim):
        return None
    return "; ".join(["mailgun", *(f"{k}={v}" for k, v in (("spf", spf), ("dkim", dkim)) if v)])


@bp.post("/hooks/mail")
def inbound_mail():
    _authenticate()
    limit = current_helpdesk.config["HELPDESK_INBOUND_MAIL_MAX_SIZE"]
    if request.content_length is not None and limit and request.content_length > limit:
        abort(413)
    raw = _raw_mail(limit)
    if not raw.strip():
        return jsonify(error="empty body: send the raw mail as the request body"), 400
    department_id = None
    slug = request.args.get("department")
    recipient = request.args.get("recipient")
    for name, value in (("department", slug), ("recipient", recipient)):
        # No slug or address holds control characters (and PostgreSQL refuses a NUL).
        if value and (not value.isprintable() or len(value) > 254):
            return jsonify(error=f"invalid {name}"), 400
    warning = None
    try:
        # "sender" as the query's or the form's (Mailgun posts it in the form): "" is a bounce.
        envelope = intake.envelope_sender_of(_envelope_sender())
    except intake.InvalidEnvelopeSender as error:
        # As the pipe: a mail is never lost over its envelope (a refusal would leave nothing
        # for an admin to find, and the provider's retries would be refused the same way).
        warning, envelope = f"invalid sender, not kept: {error.message}", None
    if slug:
        department_id = session().scalar(select(Department.id).where(Department.slug == slug))
        if department_id is None:
            return jsonify(error=f"unknown department {slug!r}"), 400
    try:
        received = intake.receive(
            raw,
            "webhook",
            department_id=department_id,
            recipient=recipient,
            envelope_sender=envelope,
            provider_verdict=_provider_verdict(raw),
        )
    except intake.MailTooLarge:
        abort(413)
    row = received.inbound
    current_app.logger.debug("inbound mail #%s stored from webhook", row.id)
    answer = {"id": row.id, "status": row.status.value, "duplicate": received.duplicate}
    return jsonify(answer | ({"warning": warning} if warning else {})), 202


def register(app, state) -> None:
    """Mount the hooks under the helpdesk's prefix; exempt from CSRF (token-authenticated)."""
    app.register_blueprint(bp, url_prefix=state.config["HELPDESK_URL_PREFIX"] or "/")
    csrf = app.extensions.get("csrf")
    if csrf is not None:
        csrf.exempt(bp)
