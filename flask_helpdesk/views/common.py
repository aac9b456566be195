"""What every helpdesk view shares: rendering with the helpdesk's own i18n and error pages."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, render_template, request, send_file
from flask_babel import get_locale
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from ..i18n import gettext, lazy_gettext, page_translators, text_direction
from ..inputs import MAX_ID, parse_int
from ..models import Attachment
from ..services import ServiceError
from ..services.attachments import Upload, download_content_type
from ..state import current_helpdesk

HTTP_ERRORS = {400: BadRequest, 403: Forbidden, 404: NotFound}
# Session key: the deflection rows of the suggested articles a customer opened while writing a
# request (views/help_center.py), handed over when the request is filed (views/portal.py).
KB_OPENED_KEY = "helpdesk_kb_opened"
# Page numbers beyond this are not pages of any list (and their OFFSET would be absurd).
MAX_PAGE = 100_000


def int_arg(
    name: str,
    default: int | None = None,
    minimum: int = 1,
    maximum: int = MAX_ID,
    status: int = 400,
) -> int | None:
    """The query-string number *name*: *default* when missing or empty, else a number within
    [*minimum*, *maximum*]; anything else (text, a 64-bit overflow) answers *status*."""
    raw = request.args.get(name, "")
    if not raw.strip():
        return default
    number = parse_int(raw, minimum, maximum)
    if number is None:
        abort(status)
    return number


def page_arg() -> int:
    """``?page=``: 1 when missing; a page that cannot exist is a 404."""
    return int_arg("page", 1, maximum=MAX_PAGE, status=404) or 1


def render(template: str, **context: Any) -> str:
    """Render a helpdesk page: our translations, the host's base template, text direction."""
    locale = get_locale()
    # Our strings from our catalogue; the host's layout around the page keeps the host's.
    page_gettext, page_ngettext = page_translators()
    context.setdefault("_", page_gettext)
    context.setdefault("gettext", page_gettext)
    context.setdefault("ngettext", page_ngettext)
    context.setdefault("helpdesk_base_template", current_helpdesk.config["HELPDESK_BASE_TEMPLATE"])
    context.setdefault("helpdesk_dir", text_direction())
    context.setdefault("helpdesk_lang", locale.language if locale else "en")
    context.setdefault("helpdesk_site_name", current_helpdesk.config["HELPDESK_SITE_NAME"])
    context.setdefault("helpdesk_config", current_helpdesk.config)
    return render_template(template, **context)


def current_language() -> str:
    """The page's language if the helpdesk has it (articles, suggestions), else the default."""
    locale = get_locale()
    wanted = locale.language if locale else ""
    config = current_helpdesk.config
    return wanted if wanted in config["HELPDESK_LANGUAGES"] else config["HELPDESK_DEFAULT_LOCALE"]


def attachment_hint() -> str:
    """ "Allowed: jpg, pdf, … — up to 10.0 MB each, at most 10 files", from the config."""
    config = current_helpdesk.config
    return gettext(
        "Allowed: %(types)s. Up to %(mb).1f MB each, at most %(count)d files.",
        types=", ".join(sorted(config["HELPDESK_ATTACHMENT_EXTENSIONS"])),
        mb=config["HELPDESK_ATTACHMENT_MAX_SIZE"] / 1024 / 1024,
        count=config["HELPDESK_ATTACHMENT_MAX_COUNT"],
    )


def uploads_from(files: list[FileStorage]) -> list[Upload]:
    """The uploaded files of a file field. A plain text value posted under the field's name (a
    script, a fuzzer) is no file and is left out, not a 500."""
    return [
        Upload(f.filename or "", f.stream)
        for f in files
        if isinstance(f, FileStorage) and f.filename
    ]


def apply_service_error(form: FlaskForm, error: ServiceError) -> None:
    """Show a service's field errors on the form (unknown fields go to the form's top)."""
    general: list[str] = []
    for name, messages in error.field_errors.items():
        field = form._fields.get(name)
        if field is not None:
            field.errors = [*list(field.errors), *messages]
        else:
            general.extend(messages)
    if not error.field_errors and error.message:
        general.append(error.message)
    form.form_errors = [*list(form.form_errors), *general]


def abort_for(error: ServiceError) -> None:
    """NotFound and Forbidden become plain 404/403 pages."""
    abort(error.status_code if error.status_code in (403, 404) else 400)


def service_error_page(error: ServiceError) -> Response:
    """The same pages from inside an error handler, where :func:`abort_for` cannot be used: an
    exception raised by an error handler is not handled again and would become a 500."""
    code = error.status_code if error.status_code in (403, 404) else 400
    return current_app.handle_http_exception(HTTP_ERRORS[code]())


__all__ = [
    "abort_for",
    "apply_service_error",
    "attachment_hint",
    "int_arg",
    "lazy_gettext",
    "page_arg",
    "render",
    "service_error_page",
    "uploads_from",
]


def send_attachment(attachment: Attachment) -> Response:
    """Serve a stored file as a download that no browser renders or sniffs.

    The one place both the portal and the desk send files from, so the headers that keep an
    uploaded HTML or SVG file from running in our origin cannot differ between them. Files in
    S3 are streamed through here too rather than handed out as presigned URLs: the permission
    check and these headers then hold for every backend, and no link outlives the check.
    """
    response = send_file(
        current_helpdesk.storage.open(attachment.sha256),
        mimetype=download_content_type(attachment),
        as_attachment=True,
        download_name=attachment.filename,
        max_age=0,
    )
    if response.content_length is None:  # a stream from S3: its length is the row's size
        response.content_length = attachment.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response
