"""``flask helpdesk reports ...``: facts for tickets made before reports existed.

Registered on the ``helpdesk`` group by :mod:`flask_helpdesk.cli`.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..services.facts import BACKFILL_BATCH, backfill, rebuild

reports_cli = AppGroup("reports", help="Reports: facts of existing tickets, the daily roll-up.")


@reports_cli.command("backfill")
@click.option("--batch", default=BACKFILL_BATCH, show_default=True, help="Tickets per commit.")
def reports_backfill(batch: int) -> None:
    """Record the facts of tickets that have none (after upgrading to a version with reports).

    What the tickets kept is used: creation, first response, latest close, spam, rating.
    Running it again adds no facts. Then the daily roll-up the reports read is rebuilt from
    all facts (needed after changing HELPDESK_REPORTS_TIMEZONE)."""
    if batch < 1:
        raise click.BadParameter("at least 1", param_hint="--batch")
    done = backfill(batch, progress=lambda n: click.echo(f"  {n} ticket(s)...", err=True))
    click.echo(f"facts recorded for {done} ticket(s)")
    rows = rebuild()
    click.echo(f"daily roll-up rebuilt from the facts: {rows} row(s)")
