"""``flask helpdesk ...``: schema upgrades, the worker, demo data and admin chores."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, ScriptInfo
from sqlalchemy.exc import OperationalError, ProgrammingError

from .. import migrations
from ..jobs import freeze_start_up, make_worker
from ..scheduler import Scheduler, get_sweep, registered_sweeps
from ..services import ServiceError
from ..services.agents import make_agent
from ..services.api_tokens import agent_for_user, create_token, revoke_by_prefix
from ..services.consent import expire_due_grants
from ..services.demo import seed_demo
from ..services.departments import create_department
from ..services.identity import SYSTEM
from ..services.sla_sweep import sweep
from ..services.webhooks import deliver_due
from .mail import COMMANDS
from .reports import reports_cli
from .sla import calendar_cli, sla_cli
from .storage import storage_cli

UPGRADE_FIRST = "the helpdesk's tables are missing: run `flask helpdesk db upgrade` first"


class HelpdeskGroup(AppGroup):
    """``flask helpdesk``: a command that fails because the helpdesk's tables are not there
    yet says what to run, instead of printing an SQL traceback (whatever the command, also
    those of sub-groups and of commands added later)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError):
            if _tables_missing(ctx):
                raise click.ClickException(UPGRADE_FIRST) from None
            raise


def _tables_missing(ctx: click.Context) -> bool:
    try:
        app = ctx.ensure_object(ScriptInfo).load_app()
        with app.app_context():
            return bool(app.extensions["helpdesk"].missing_tables())
    except Exception:  # the database is unreachable: the original error says more
        return False


helpdesk_cli = HelpdeskGroup("helpdesk", help="flask-helpdesk: schema, worker, demo data, agents.")


@helpdesk_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option(
    "--with-scheduler/--without-scheduler",
    default=True,
    show_default=True,
    help="Also queue the periodic sweeps (SLA, access expiry) and re-queue retries whose"
    " interval has passed.",
)
@click.option(
    "--queue", "queues", multiple=True, help="Queue to work on (default: HELPDESK_QUEUE_NAME)."
)
def worker_command(burst: bool, with_scheduler: bool, queues: tuple[str, ...]) -> None:
    """Run an RQ worker for the helpdesk's background jobs (needs HELPDESK_REDIS_URL)."""
    state = current_app.extensions["helpdesk"]
    if not state.dispatcher.uses_rq:
        raise click.ClickException(
            "HELPDESK_REDIS_URL is not set: jobs run inline, there is nothing to work on."
        )
    from redis.exceptions import RedisError

    try:
        state.dispatcher.queue.connection.ping()
    except RedisError as error:
        raise click.ClickException(
            f"cannot reach Redis ({error}). Start it (redis-server, or your Redis service) or"
            " point HELPDESK_REDIS_URL at one that runs."
        ) from None
    app = current_app._get_current_object()
    worker = make_worker(app, list(queues) or None)
    names = ", ".join(q.name for q in worker.queues)
    click.echo(f"helpdesk worker on queue(s) {names}")
    scheduler = Scheduler(app)
    if with_scheduler and not burst:
        scheduler.start_thread()  # queues the periodic sweeps (one process per interval)
    if not burst:  # a burst run ends when the queue is empty: nothing to gain
        freeze_start_up()
    try:
        worker.work(burst=burst, with_scheduler=with_scheduler)
    finally:
        # A warm shutdown (SIGTERM, rq's shutdown command) ends the scheduler too, between two
        # ticks, so no sweep is left half queued.
        if not scheduler.stop():
            click.echo("helpdesk scheduler: still in a tick, left behind", err=True)


@helpdesk_cli.command("create-agent")
@click.argument("user")
@click.option(
    "--department", "departments", multiple=True, help="Department short name (repeatable)."
)
@click.option(
    "--role", type=click.Choice(["agent", "lead", "admin"]), default="agent", show_default=True
)
@click.option("--capacity", type=click.IntRange(0, 1000), help="Most live tickets at once.")
def create_agent_command(
    user: str, departments: tuple[str, ...], role: str, capacity: int | None
) -> None:
    """Make the host user USER a helpdesk agent (or update them).

    USER is their Flask-Login id or, if the app registers @helpdesk.user_by_email, their email.
    Departments given are added to those the agent has.
    """

    try:
        agent = make_agent(user, list(departments), role, capacity=capacity)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    names = ", ".join(d.slug for d in agent.departments) or "-"
    click.echo(
        f"agent #{agent.id} {agent.display_name} ({agent.role.value}); departments: {names};"
        f" capacity: {agent.capacity}"
    )


@helpdesk_cli.command("create-department")
@click.argument("name")
@click.option("--slug", help="Short id used in URLs and by create-agent (default: from NAME).")
@click.option("--email", help="Address notifications about this department's tickets come from.")
@click.option("--description", default="", help="Shown to customers under the department.")
def create_department_command(
    name: str, slug: str | None, email: str | None, description: str
) -> None:
    """Create a department customers can file requests in (NAME as customers see it)."""

    try:
        department = create_department(
            SYSTEM, name, slug=slug, description=description, email=email
        )
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"department #{department.id} {department.name} ({department.slug})")


@helpdesk_cli.command("create-api-token")
@click.argument("name")
@click.option("--agent", "agent_ref", help="The agent's user id or email: a personal token.")
@click.option("--service", is_flag=True, help="A service token for a host system (no agent).")
@click.option(
    "--scope", type=click.Choice(["read", "write", "admin"]), default="read", show_default=True
)
@click.option("--days", type=click.IntRange(1, 1830), help="Expires after this many days.")
def create_api_token_command(
    name: str, agent_ref: str | None, service: bool, scope: str, days: int | None
) -> None:
    """Create an API token called NAME and print it (once: only its hash is kept)."""
    from datetime import timedelta

    if service == bool(agent_ref):
        raise click.UsageError("give either --agent USER or --service")
    try:
        agent = agent_for_user(agent_ref) if agent_ref else None
        row, token = create_token(
            SYSTEM,
            name,
            scope=scope,
            kind="service" if service else "personal",
            agent=agent,
            expires_in=timedelta(days=days) if days else None,
        )
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"token #{row.id} {row.name} ({row.kind}, {row.scopes}); shown once:")
    click.echo(token)


@helpdesk_cli.command("revoke-api-token")
@click.argument("prefix")
def revoke_api_token_command(prefix: str) -> None:
    """Revoke the API token whose visible part is PREFIX (``hd_PREFIX_...``)."""

    try:
        row = revoke_by_prefix(SYSTEM, prefix)
    except ServiceError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"token #{row.id} {row.name} revoked")


@helpdesk_cli.command("webhook-sweep")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True)
def webhook_sweep_command(limit: int) -> None:
    """Send the webhook deliveries that are due: new ones, and retries whose time came.

    Run it every minute from cron when jobs run inline (no Redis); with RQ the worker sends
    deliveries itself, and this catches any whose job was lost."""

    click.echo(f"{deliver_due(limit)} webhook deliveries sent")


@helpdesk_cli.command("seed-demo")
def seed_demo_command() -> None:
    """Fill an empty helpdesk with demo departments, people and tickets in every status."""

    report = seed_demo()
    for line in report:
        click.echo(line)


@helpdesk_cli.command("scheduler")
@click.option("--once", is_flag=True, help="Start the sweeps that are due once, then stop.")
def scheduler_command(once: bool) -> None:
    """Start each periodic sweep every interval: as RQ jobs with Redis, else in this process."""

    scheduler = Scheduler(current_app._get_current_object())
    if once:
        click.echo(f"started: {', '.join(scheduler.tick()) or 'nothing'}")
        return
    click.echo(f"helpdesk scheduler: {', '.join(s.name for s in registered_sweeps())}")
    scheduler.run_forever()


@helpdesk_cli.command("sweep")
@click.argument("names", nargs=-1)
@click.option("--list", "show", is_flag=True, help="List the registered sweeps.")
def sweep_command(names: tuple[str, ...], show: bool) -> None:
    """Run the sweeps NAMES (default: all) now, in this process (for cron)."""

    if show:
        for sweep in registered_sweeps():
            click.echo(f"{sweep.name}: {sweep.help}")
        return
    try:
        chosen = [get_sweep(name) for name in names] or registered_sweeps()
    except KeyError as error:
        raise click.ClickException(str(error.args[0])) from None
    for sweep in chosen:
        click.echo(f"{sweep.name}: {sweep.run()}")


@helpdesk_cli.command("sla-sweep")
def sla_sweep_command() -> None:
    """Raise due SLA warnings and breaches and queue their notifications (for cron)."""

    click.echo(str(sweep()))


@helpdesk_cli.command("access-sweep")
def access_sweep_command() -> None:
    """Expire account-access grants past their end (audit events and signals for each)."""

    click.echo(f"{expire_due_grants()} access grant(s) expired")


# -- schema ---------------------------------------------------------------------------------------
@helpdesk_cli.group("db")
def db_cli() -> None:
    """Create and upgrade the helpdesk's own tables (its shipped Alembic migrations)."""


@db_cli.command("upgrade")
@click.argument("revision", default="head")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
def db_upgrade_command(revision: str, sql: bool) -> None:
    """Upgrade the helpdesk's tables to REVISION (default: the newest)."""

    migrations.upgrade(revision=revision, sql=sql)
    if not sql:
        click.echo(f"helpdesk schema at revision {migrations.current()}")


@db_cli.command("downgrade")
@click.argument("revision")
@click.option("--sql", is_flag=True, help="Print the SQL instead of running it.")
def db_downgrade_command(revision: str, sql: bool) -> None:
    """Downgrade the helpdesk's tables to REVISION ("base" drops them all, data included)."""

    migrations.downgrade(revision=revision, sql=sql)
    if not sql:
        click.echo(f"helpdesk schema at revision {migrations.current() or 'base (no tables)'}")


@db_cli.command("stamp")
@click.argument("revision", default="head")
def db_stamp_command(revision: str) -> None:
    """Mark REVISION as applied without running it (tables made earlier by create_all)."""

    migrations.stamp(revision=revision)
    click.echo(f"helpdesk schema stamped at revision {migrations.current()}")


@db_cli.command("current")
def db_current_command() -> None:
    """Show the revision the database is at."""

    revision = migrations.current()
    newest = migrations.head()
    if revision is None:
        click.echo(f"none (no helpdesk tables yet; newest is {newest})")
    else:
        click.echo(f"{revision}{' (head)' if revision == newest else f' (newest is {newest})'}")


@db_cli.command("history")
def db_history_command() -> None:
    """List the shipped revisions, newest first."""

    for revision in migrations.history():
        click.echo(f"{revision.down_revision or 'base'} -> {revision.revision}: {revision.message}")


# The mail, SLA and reports commands live in their own modules of this package.
for command in COMMANDS:
    helpdesk_cli.add_command(command)
helpdesk_cli.add_command(calendar_cli)
helpdesk_cli.add_command(sla_cli)
helpdesk_cli.add_command(reports_cli)
helpdesk_cli.add_command(storage_cli)
