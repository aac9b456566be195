"""``flask helpdesk fetch-mail | ingest-mail | process-mail | retry-mail | add-mailbox |
check-mail-dns``.

Registered on the ``helpdesk`` command group by :mod:`flask_helpdesk.cli`. Each pushes the app
context itself (``with_appcontext``), as ``AppGroup.command`` does for the others, so
``app.test_cli_runner()`` runs them.
"""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..mail.dns_check import MISSING
from ..models import Department
from ..services import ServiceError, intake, mail_auth, mailboxes
from ..services.base import session
from ..services.identity import SYSTEM

# sysexits.h: what a mail server's pipe understands.
EX_OK = 0
EX_DATAERR = 65  # the message is refused for good (too large): the MTA bounces it
EX_TEMPFAIL = 75  # try again later: the MTA keeps the mail queued


@click.command("fetch-mail")
@with_appcontext
@click.option("--sweep/--no-sweep", default=True, help="Also process mail left unprocessed.")
def fetch_mail_command(sweep: bool) -> None:
    """Poll every active IMAP mailbox once and turn new mail into tickets and replies."""

    failed = False
    for mailbox, result in mailboxes.fetch_all():
        if isinstance(result, str):
            failed = True
            click.echo(f"mailbox #{mailbox.id} {mailbox.name}: ERROR {result}", err=True)
        else:
            click.echo(
                f"mailbox #{mailbox.id} {mailbox.name}: {result.fetched} new, "
                f"{result.duplicates} already known, {result.set_aside} set aside (too large)"
            )
    if sweep:
        _echo_counts(intake.sweep())
    if failed:
        sys.exit(1)


@click.command("ingest-mail")
@with_appcontext
@click.option("--department", "department_slug", help="Department slug for new tickets.")
@click.option("--recipient", help="The envelope recipient (e.g. the MTA's $RECIPIENT).")
@click.option(
    "--sender",
    "envelope_sender",
    help="The envelope sender, MAIL FROM (e.g. Postfix's ${sender}; empty or '<>' for a bounce).",
)
def ingest_mail_command(
    department_slug: str | None, recipient: str | None, envelope_sender: str | None
) -> None:
    """Read ONE raw mail from stdin (an MTA pipe). Exit 0 once stored, 75 to retry later."""
    from sqlalchemy import select

    raw = sys.stdin.buffer.read()
    try:
        department_id = None
        if department_slug:
            department_id = session().scalar(
                select(Department.id).where(Department.slug == department_slug)
            )
            if department_id is None:
                click.echo(f"unknown department {department_slug!r}", err=True)
                sys.exit(EX_TEMPFAIL)  # a configuration error: keep the mail queued
        try:
            envelope = intake.envelope_sender_of(envelope_sender)
        except intake.InvalidEnvelopeSender as error:
            # A pipe never loses a mail over an argument: kept, without the envelope sender.
            click.echo(f"envelope sender not kept: {error.message}", err=True)
            envelope = None
        received = intake.receive(
            raw, "pipe", department_id=department_id, recipient=recipient, envelope_sender=envelope
        )
    except intake.MailTooLarge as error:
        click.echo(error.message, err=True)
        sys.exit(EX_DATAERR)
    except Exception as error:  # database down, disk full: the MTA must keep the mail
        click.echo(f"could not store the mail, try again later: {error}", err=True)
        sys.exit(EX_TEMPFAIL)
    row = received.inbound
    click.echo(f"inbound mail #{row.id}: {'duplicate, ' if received.duplicate else ''}{row.status}")
    sys.exit(EX_OK)


@click.command("process-mail")
@with_appcontext
@click.option(
    "--older-than", default=60.0, show_default=True, help="Seconds a mail must have waited."
)
def process_mail_command(older_than: float) -> None:
    """Process stored mail a crash or an outage left unprocessed (safe to run from cron)."""

    _echo_counts(intake.sweep(older_than=older_than))


@click.command("retry-mail")
@with_appcontext
@click.argument("ids", nargs=-1, type=int)
@click.option("--all-failed", is_flag=True, help="Retry every failed mail.")
def retry_mail_command(ids: tuple[int, ...], all_failed: bool) -> None:
    """Retry failed inbound mail now (by id, or --all-failed)."""

    targets = list(ids) + (intake.failed_ids() if all_failed else [])
    if not targets:
        raise click.UsageError("give inbound mail ids or --all-failed")
    for inbound_id in dict.fromkeys(targets):
        row = intake.retry(SYSTEM, inbound_id)
        click.echo(
            f"inbound mail #{row.id}: {row.status}{' - ' + row.reason if row.reason else ''}"
        )


@click.command("add-mailbox")
@with_appcontext
@click.option("--department", "department_slug", required=True)
@click.option("--host", required=True)
@click.option("--port", type=int)
@click.option("--security", type=click.Choice(["imaps", "starttls", "none"]), default="imaps")
@click.option("--username", required=True)
@click.option("--password", required=True, help="Stored in the database; or env:VARIABLE.")
@click.option("--address", help="The address customers write to (used as Reply-To).")
@click.option("--folder", default="INBOX")
@click.option("--processed-folder", help="Move processed mail here (default: flag it).")
@click.option("--no-verify-tls", is_flag=True, help="Accept a self-signed certificate.")
def add_mailbox_command(department_slug: str, **options) -> None:
    """Add an IMAP mailbox that fetch-mail polls for a department."""
    from sqlalchemy import select

    department = session().scalar(select(Department).where(Department.slug == department_slug))
    if department is None:
        raise click.ClickException(f"unknown department {department_slug!r}")
    verify = not options.pop("no_verify_tls")
    try:
        mailbox = mailboxes.create_mailbox(SYSTEM, department, verify_tls=verify, **options)
    except ServiceError as error:
        raise click.ClickException(f"{error.message} {error.field_errors}") from None
    click.echo(f"mailbox #{mailbox.id} for {department.slug}: {mailbox.username}@{mailbox.host}")


@click.command("check-mail-dns")
@with_appcontext
@click.option("--address", help="The support address (default: the helpdesk's mail sender).")
@click.option(
    "--sending-ip",
    "sending_ips",
    multiple=True,
    help="An IP our mail leaves from (default: MAIL_SERVER's addresses); repeatable.",
)
@click.option(
    "--dkim-selector", help="The selector your mail server signs with, if the helpdesk does not."
)
def check_mail_dns_command(
    address: str | None, sending_ips: tuple[str, ...], dkim_selector: str | None
) -> None:
    """Check the support address's SPF, DKIM and DMARC records; exit 1 if any is missing."""
    try:
        domain, findings = mail_auth.dns_findings(address, list(sending_ips) or None, dkim_selector)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"DNS records for mail from {domain}:")
    for finding in findings:
        click.echo(f"  {finding.status.upper():<8} {finding.record:<6} {finding.text}")
    missing = [f for f in findings if f.status == MISSING]
    if missing:
        click.echo(f"{len(missing)} missing: receivers may mark our mail as spam or refuse it.")
        sys.exit(1)
    click.echo("All in place.")


def _echo_counts(counts: dict[str, int]) -> None:
    if counts:
        click.echo("processed left-over mail: " + ", ".join(f"{v} {k}" for k, v in counts.items()))


COMMANDS = [
    fetch_mail_command,
    ingest_mail_command,
    process_mail_command,
    retry_mail_command,
    add_mailbox_command,
    check_mail_dns_command,
]
