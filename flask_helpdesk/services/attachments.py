"""Checking and storing uploaded files. Bytes go to the storage backend before any row is written,
so a rejected file (too large, wrong type) leaves the database untouched."""

from __future__ import annotations

import mimetypes
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import select, union
from sqlalchemy.orm import contains_eager
from sqlalchemy.orm.attributes import set_committed_value

from ..i18n import gettext as _
from ..inputs import JOINERS
from ..models import ArticleFile, Attachment, Message, Ticket
from ..state import current_helpdesk
from ..storage import FileTooLarge
from .base import NotFound, ValidationError, session
from .identity import Actor
from .permissions import ensure

# Types a download keeps. Anything else (HTML, SVG, XML, script, unknown) is served as
# application/octet-stream: an allowlist, so a type nobody thought of is never rendered.
SAFE_CONTENT_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/json",
        "application/zip",
        "application/gzip",
        "application/x-gzip",
        "message/rfc822",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
    }
)
OPAQUE_CONTENT_TYPE = "application/octet-stream"


@dataclass
class Upload:
    """A file as a channel received it (form field, API, mail part). *stored*: the file as
    :func:`store_uploads` already checked and stored it (mail intake checks each part on its
    own, to keep the others when one is refused): not read, hashed and written again."""

    filename: str
    stream: BinaryIO
    stored: StoredFile | None = None


@dataclass
class StoredFile:
    filename: str
    content_type: str
    size: int
    sha256: str


def clean_filename(filename: str) -> str:
    """Keep the name a person gave (any script), minus paths and control and format characters
    (bidi overrides), but with the joiners its words need (see :data:`~..inputs.JOINERS`)."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch in JOINERS or unicodedata.category(ch)[0] != "C").strip(
        " ."
    )
    return name[:200] or "file"


def _extension(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def store_uploads(uploads: list[Upload], field: str = "attachments") -> list[StoredFile]:
    """Validate and store *uploads*; raise :class:`ValidationError` naming the bad file."""
    config = current_helpdesk.config
    uploads = [u for u in uploads if u.filename]
    if len(uploads) > config["HELPDESK_ATTACHMENT_MAX_COUNT"]:
        raise ValidationError(
            _("Too many files."),
            {field: [_("At most %(n)d files.", n=config["HELPDESK_ATTACHMENT_MAX_COUNT"])]},
        )
    allowed = config["HELPDESK_ATTACHMENT_EXTENSIONS"]
    max_size = config["HELPDESK_ATTACHMENT_MAX_SIZE"]
    stored: list[StoredFile] = []
    for upload in uploads:
        if upload.stored is not None:
            stored.append(upload.stored)
            continue
        name = clean_filename(upload.filename)
        if _extension(name) not in allowed:
            raise ValidationError(
                _("File type not allowed."),
                {field: [_("%(name)s: this file type is not allowed.", name=name)]},
            )
        try:
            sha256, size = current_helpdesk.storage.save(upload.stream, max_size)
        except FileTooLarge:
            raise ValidationError(
                _("File too large."),
                {
                    field: [
                        _(
                            "%(name)s is larger than %(mb).1f MB.",
                            name=name,
                            mb=max_size / 1024 / 1024,
                        )
                    ]
                },
            ) from None
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        stored.append(StoredFile(name, content_type, size, sha256))
    return stored


def attach(ticket: Ticket, message: Message, files: list[StoredFile]) -> list[Attachment]:
    """The rows of *files* on *message*, which the transaction has just written (its id is
    known): its ``attachments`` are these rows, as loaded (the staff notification lists them;
    it asked the database for them again, one more statement for a mail with files)."""
    fresh = "attachments" not in message.__dict__ and message.id is not None
    rows = [
        Attachment(
            message_id=message.id,
            ticket_id=ticket.id,
            filename=f.filename,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
        )
        for f in files
    ]
    session().add_all(rows)
    if fresh:
        # Not through the relationship, whose backref would queue each row on a collection
        # still to be loaded (a SELECT on first use): the collection is exactly these rows.
        set_committed_value(message, "attachments", list(rows))
    else:
        for row in rows:
            row.message = message
    return rows


def download_content_type(attachment: Attachment) -> str:
    """The type to serve: never one a browser would render as a page or run as script."""
    content_type = (attachment.content_type or "").split(";", 1)[0].strip().lower()
    return content_type if content_type in SAFE_CONTENT_TYPES else OPAQUE_CONTENT_TYPE


def find_attachment(actor: Actor, ticket: Ticket, attachment_id: int) -> Attachment:
    """An attachment of *ticket* that *actor* may download; :class:`NotFound` otherwise.

    Customers never get files of internal notes; the error is the same as for an id that does
    not exist, so ids reveal nothing.
    """
    ensure(actor, "download", ticket)
    attachment = session().scalar(
        select(Attachment)
        .join(Attachment.message)
        .where(Attachment.id == attachment_id, Attachment.ticket_id == ticket.id)
        .options(contains_eager(Attachment.message))
    )
    if attachment is None or (actor.is_customer and not attachment.message.is_public):
        raise NotFound(_("File not found."))
    return attachment


def stored_digests() -> list[str]:
    """Every file the database refers to (ticket attachments and article files), once each:
    what ``flask helpdesk storage move`` copies. Files nothing refers to are left behind."""
    query = union(select(Attachment.sha256), select(ArticleFile.sha256))
    return sorted(session().execute(query).scalars())
