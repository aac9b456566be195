"""``flask helpdesk storage ...``: moving attachment files between storage backends.

Registered on the ``helpdesk`` group by :mod:`flask_helpdesk.cli`.
"""

from __future__ import annotations

import os

import click
from flask import current_app
from flask.cli import AppGroup

from ..services.attachments import stored_digests
from ..storage import STORAGE_KINDS, backend_from_config, move_files

storage_cli = AppGroup("storage", help="Attachment storage: move files between backends.")


@storage_cli.command("move")
@click.option(
    "--to",
    "target_kind",
    type=click.Choice(STORAGE_KINDS),
    required=True,
    help="The backend to copy into; the files are read from the other one.",
)
@click.option(
    "--delete-source",
    is_flag=True,
    help="Remove each file from the old backend once its copy is verified (default: keep all).",
)
def storage_move(target_kind: str, delete_source: bool) -> None:
    """Copy every stored attachment to another backend and verify each copy's SHA-256.

    Safe to stop and run again: files already copied are checked, not sent again. Run it
    while HELPDESK_STORAGE_BACKEND still names the old backend, then switch the setting and
    run it once more for the files uploaded in between."""
    state = current_app.extensions["helpdesk"]
    config = state.config
    if target_kind == "s3" and not config["HELPDESK_S3_BUCKET"]:
        raise click.ClickException("HELPDESK_S3_BUCKET is not set: nowhere to move the files")
    default_root = os.path.join(current_app.instance_path, "helpdesk-attachments")
    source_kind = next(kind for kind in STORAGE_KINDS if kind != target_kind)
    source = backend_from_config(source_kind, config, default_root)
    target = backend_from_config(target_kind, config, default_root)
    digests = stored_digests()
    total = len(digests)
    click.echo(f"{total} file(s) to check, {source_kind} -> {target_kind}")

    def progress(number: int, sha256: str, outcome: str) -> None:
        if outcome not in ("copied", "already there") or number % 100 == 0 or number == total:
            click.echo(f"  [{number}/{total}] {sha256[:12]}… {outcome}", err=True)

    report = move_files(source, target, digests, delete_source=delete_source, progress=progress)
    click.echo(
        f"copied {report.copied}, already there {report.already_there},"
        f" missing from {source_kind} {len(report.missing)}, failed {len(report.failed)},"
        f" removed from {source_kind} {report.deleted}"
    )
    if report.failed or report.missing:
        raise click.ClickException(
            f"{len(report.failed) + len(report.missing)} file(s) not moved; the old copies are"
            " kept. Run the command again once the cause is fixed."
        )
