"""Sending mail: one helper that renders a text and an HTML template of the same name.

Uses the host's Flask-Mail when it is set up; otherwise (the embedded default) the message is
written to the log, so a demo never needs an SMTP server. With ``HELPDESK_MAIL_DKIM_KEY`` set,
every mail sent is DKIM-signed (``dkimpy``, the ``[mailauth]`` extra), for hosts whose mail
server does not sign: receivers then see our ``From`` domain vouch for the mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from flask.signals import before_render_template, template_rendered
from flask_babel import force_locale, get_locale

from ..i18n import domain, text_direction

logger = logging.getLogger("flask_helpdesk.mail")

# Headers that mark mail no human wrote (RFC 3834), so that auto-responders (vacation
# replies, Exchange's out-of-office) do not answer it and start a mail loop. "auto-replied":
# every automatic mail of ours answers something a person did on a ticket (and our own intake
# drops mail carrying it, see mail/noise.py, so two help desks never feed each other).
AUTOMATIC_HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}


@dataclass
class RenderedMail:
    """A rendered mail body: both parts and the locale they were written in."""

    text: str
    html: str
    locale: str


def mail_backend() -> str:
    configured = current_app.extensions["helpdesk"].config["HELPDESK_MAIL_BACKEND"]
    if configured:
        return configured
    return "flask-mail" if "mail" in current_app.extensions else "log"


def default_sender() -> str | None:
    config = current_app.extensions["helpdesk"].config
    return config["HELPDESK_MAIL_SENDER"] or current_app.config.get("MAIL_DEFAULT_SENDER")


# Headers a DKIM signature covers: what a receiver shows or threads by. Signed
# even when absent and From and Subject once more than they occur ("over-signing"), so a
# relay cannot add one unnoticed.
DKIM_HEADERS = [
    b"from", b"from", b"to", b"cc", b"subject", b"subject", b"date", b"message-id",
    b"reply-to", b"in-reply-to", b"references", b"mime-version", b"content-type",
    b"auto-submitted",
]  # fmt: skip


def dkim_sign(raw: bytes, key: bytes, selector: str, domain: str) -> bytes:
    """*raw* with a ``DKIM-Signature`` of *domain* (relaxed/relaxed: survives relays that
    refold headers or change trailing whitespace)."""
    import dkim

    header = dkim.sign(
        raw,
        selector.encode("ascii"),
        domain.encode("idna"),
        key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=DKIM_HEADERS,
    )
    return header + raw


def dkim_domain(sender: str | tuple[str, str] | None) -> str | None:
    """The signing domain: the configured one, else the sender address's (aligned with
    ``From`` for DMARC)."""
    configured = current_app.extensions["helpdesk"].config["HELPDESK_MAIL_DKIM_DOMAIN"]
    if configured:
        return configured
    from email.utils import parseaddr

    address = sender[1] if isinstance(sender, tuple) else parseaddr(sender or "")[1]
    return address.rpartition("@")[2].lower() or None


def mail_locale(locale: str | None) -> str:
    """The supported locale closest to *locale* (``vi_VN`` → ``vi``), else the default."""
    config = current_app.extensions["helpdesk"].config
    languages = list(config["HELPDESK_LANGUAGES"])
    if locale:
        if locale in languages:
            return locale
        language = re.split(r"[-_]", locale, maxsplit=1)[0].lower()
        if language in languages:
            return language
    return config["HELPDESK_DEFAULT_LOCALE"]


def render_mail(template: str, locale: str | None = None, **context: Any) -> RenderedMail:
    """Render ``helpdesk/mail/<template>.txt`` and ``.html`` in the recipient's *locale*.

    Everything translated inside the block — the templates and the ``subject`` callable if
    the caller renders one with :func:`in_locale` — comes out in that language, whatever
    the language of the request (an agent's) that triggered the mail.
    """
    context.setdefault("site_name", current_app.extensions["helpdesk"].config["HELPDESK_SITE_NAME"])
    with force_locale(mail_locale(locale)):
        mail_gettext, mail_ngettext = _mail_translators()
        context.setdefault("_", mail_gettext)
        context.setdefault("gettext", mail_gettext)
        context.setdefault("ngettext", mail_ngettext)
        current = str(get_locale() or mail_locale(None))
        context.setdefault("mail_locale", current.replace("_", "-"))
        context.setdefault("mail_dir", text_direction())
        # Flask's render_template for each, but the context processors run once for both.
        app = current_app._get_current_object()
        app.update_template_context(context)
        text = _render(app, f"helpdesk/mail/{template}.txt", context)
        html = _render(app, f"helpdesk/mail/{template}.html", context)
    return RenderedMail(text=text, html=html, locale=current)


def _render(app: Any, name: str, context: dict[str, Any]) -> str:
    template = app.jinja_env.get_or_select_template(name)
    before_render_template.send(
        app, _async_wrapper=app.ensure_sync, template=template, context=context
    )
    rendered = template.render(context)
    template_rendered.send(app, _async_wrapper=app.ensure_sync, template=template, context=context)
    return rendered


def _mail_translators() -> tuple[Callable[..., str], Callable[..., str]]:
    """``gettext`` and ``ngettext`` of our catalogue in the current (forced) locale, found
    once per mail: Flask-Babel looks the locale and its catalogue up again for every string
    (a dozen a mail). The same strings as :func:`..i18n.gettext`: mail is ours alone."""
    translations = domain.get_translations()

    def mail_gettext(string: str, **variables: Any) -> str:
        text = translations.ugettext(string)
        return text % variables if variables else text

    def mail_ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
        variables.setdefault("num", num)
        return translations.ungettext(singular, plural, num) % variables

    return mail_gettext, mail_ngettext


def one_line(text: str, limit: int = 200) -> str:
    """Header-safe text: no line breaks (header injection), bounded length."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def send_mail(
    to: Iterable[str],
    subject: str,
    text: str,
    html: str | None = None,
    sender: str | None = None,
    headers: dict[str, str] | None = None,
    message_id: str | None = None,
    attachments: Iterable[tuple[str, str, bytes]] = (),
    reply_to: str | None = None,
) -> None:
    """Send one message (``attachments``: ``(filename, content_type, data)``).

    *headers* are added as they are (threading headers, ``Auto-Submitted``); *message_id*,
    when given, becomes the ``Message-ID`` so that replies can be threaded back.
    Errors of the mail server propagate: the caller (a job) decides about retries.
    """
    recipients = [address for address in to if address]
    if not recipients:
        return
    sender = sender or default_sender()
    subject = one_line(subject, limit=250)
    if mail_backend() == "log":
        # Nothing configured at all: WARNING, so the mail shows at Python's default log level
        # (and nobody believes it was sent); a deliberate "log" backend logs at INFO.
        chosen = current_app.extensions["helpdesk"].config["HELPDESK_MAIL_BACKEND"]
        level = logging.INFO if chosen == "log" else logging.WARNING
        logger.log(level, "helpdesk mail to %s: %s\n%s", ", ".join(recipients), subject, text)
        return
    from flask_mail import Message as MailMessage

    config = current_app.extensions["helpdesk"].config
    key, domain = config["HELPDESK_MAIL_DKIM_KEY"], None
    if key:
        domain = dkim_domain(sender)
    if key and domain:
        selector = config["HELPDESK_MAIL_DKIM_SELECTOR"]

        class SignedMessage(MailMessage):
            """Flask-Mail's message, signed as the bytes that go to the server are made."""

            def as_bytes(self) -> bytes:
                return dkim_sign(super().as_bytes(), key, selector, domain)

        factory: type[MailMessage] = SignedMessage
    else:
        factory = MailMessage
    message = factory(
        subject=subject,
        recipients=recipients,
        body=text,
        html=html,
        sender=sender,
        reply_to=reply_to,
        extra_headers=dict(headers or {}),
    )
    if message_id:
        message.msgId = message_id
    for filename, content_type, data in attachments:
        message.attach(filename, content_type, data)
    current_app.extensions["mail"].send(message)
