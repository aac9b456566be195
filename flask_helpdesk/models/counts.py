"""Ticket counts per department, assignee and status, kept by the database in the same
transaction as every change of a ticket's status, department or assignee.

The desk's department counters (new / open / closed per department) counted every visible
ticket on each uncached queue page: about 28 ms at 100,000 tickets on PostgreSQL and most of a
second at a million, hence a cache with a time to live and a sidebar that lagged behind. With
these rows the counters are a sum over a few hundred rows, always right.

Why triggers, not a service: a ticket's status, department or assignee changes through many
doors (the state machine, transfers, assignment, automatic distribution, rules, spam, merges,
bulk actions, imports, the benchmark's bulk load); a count that only some doors remember
drifts silently and forever. The search documents are kept the same way (models/search.py).

Why by assignee too: an agent sees the tickets of their departments *and* the tickets assigned
to them elsewhere (services/permissions.py), and the counters must agree with the queue; the
agent's rows are then ``department IN (theirs) OR assignee = them``, like the visibility rule.
``assignee_id`` 0 stands for "nobody" (a primary key has no NULL).

The cost on a write: one ``UPDATE ... SET n = n + 1`` (an upsert) when a ticket is made, two
single-row updates when one of the three columns changes, nothing otherwise. On PostgreSQL an
added-to row stays locked until its transaction commits, and every new ticket of a department
counts into the same cell (unassigned, open): with one row per cell, parallel creators waited
for each other's commits (issue 17). So each cell is spread over up to ``HOT_SLOTS`` rows
(``slot``: the connection's backend pid modulo the slots, models/base.py), and readers sum
them: two transactions at once wait only when their connections share a slot. The two rows of
a move are in one slot and always locked in key order, so two opposite moves at once cannot
deadlock. SQLite, one writer at a time, always writes slot 0.
"""

from __future__ import annotations

from sqlalchemy import DDL, Integer, SmallInteger, String, event, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import PG_HOT_SLOT, HelpdeskModel
from .ticket import Ticket

COUNT_TABLE = "helpdesk_ticket_count"


class TicketCount(HelpdeskModel):
    """How many tickets have this department, assignee (0: none) and status: the sum of the
    cell's slots. Written only by the database's triggers (below); read by
    ``services/queues.department_counters`` and the distribution's loads, both summing."""

    __tablename__ = COUNT_TABLE

    department_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    assignee_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(20), primary_key=True)
    # One of the cell's rows (see the module's docstring); 0 for SQLite and bulk counts.
    slot: Mapped[int] = mapped_column(
        SmallInteger, primary_key=True, autoincrement=False, server_default=text("0")
    )
    n: Mapped[int] = mapped_column(Integer, default=0)


# Every count from the tickets there are (the migration that made the table; the benchmark's
# bulk load, which writes tickets with PostgreSQL's triggers off).
WRITE_COUNTS = f"""INSERT INTO {COUNT_TABLE} (department_id, assignee_id, status, n)
    SELECT department_id, coalesce(assignee_id, 0), status, count(*)
    FROM helpdesk_ticket GROUP BY department_id, coalesce(assignee_id, 0), status"""


def _sqlite_add(row: str, delta: int) -> str:
    return (
        f"INSERT INTO {COUNT_TABLE} (department_id, assignee_id, status, n)"
        f" VALUES ({row}.department_id, coalesce({row}.assignee_id, 0), {row}.status, {delta})"
        f" ON CONFLICT (department_id, assignee_id, status, slot) DO UPDATE SET n = n + {delta};"
    )


_CHANGED = (
    "old.status IS NOT new.status OR old.department_id IS NOT new.department_id"
    " OR old.assignee_id IS NOT new.assignee_id"
)
SQLITE_COUNT_TRIGGERS = [
    f"CREATE TRIGGER IF NOT EXISTS {COUNT_TABLE}_ai AFTER INSERT ON helpdesk_ticket"
    f" BEGIN {_sqlite_add('new', 1)} END",
    f"CREATE TRIGGER IF NOT EXISTS {COUNT_TABLE}_ad AFTER DELETE ON helpdesk_ticket"
    f" BEGIN {_sqlite_add('old', -1)} END",
    f"CREATE TRIGGER IF NOT EXISTS {COUNT_TABLE}_au AFTER UPDATE OF status, department_id,"
    f" assignee_id ON helpdesk_ticket WHEN {_CHANGED}"
    f" BEGIN {_sqlite_add('old', -1)} {_sqlite_add('new', 1)} END",
]
SQLITE_COUNT_DROP = [f"DROP TRIGGER IF EXISTS {COUNT_TABLE}_{s}" for s in ("ai", "ad", "au")]

# PL/pgSQL, not SQL: a SQL function's statement is parsed and planned again each time a
# trigger calls it (its plan lives only as long as the calling statement), PL/pgSQL keeps the
# plan for the session (migration 0036: 30 us less server CPU a new ticket).
PG_COUNT_ADD = f"""CREATE OR REPLACE FUNCTION helpdesk_ticket_count_add(
        department INTEGER, assignee INTEGER, state VARCHAR, delta INTEGER) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO {COUNT_TABLE} (department_id, assignee_id, status, slot, n)
        VALUES (department, coalesce(assignee, 0), state, {PG_HOT_SLOT}, delta)
        ON CONFLICT (department_id, assignee_id, status, slot) DO UPDATE
        SET n = {COUNT_TABLE}.n + delta;
    END $$"""
PG_COUNT_DDL = [
    PG_COUNT_ADD,
    """CREATE OR REPLACE FUNCTION helpdesk_ticket_count_trigger() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            PERFORM helpdesk_ticket_count_add(NEW.department_id, NEW.assignee_id, NEW.status, 1);
        ELSIF TG_OP = 'DELETE' THEN
            PERFORM helpdesk_ticket_count_add(OLD.department_id, OLD.assignee_id, OLD.status, -1);
        -- A move locks its two rows in key order: two opposite moves at once cannot deadlock.
        ELSIF (OLD.department_id, coalesce(OLD.assignee_id, 0), OLD.status)
            < (NEW.department_id, coalesce(NEW.assignee_id, 0), NEW.status) THEN
            PERFORM helpdesk_ticket_count_add(OLD.department_id, OLD.assignee_id, OLD.status, -1);
            PERFORM helpdesk_ticket_count_add(NEW.department_id, NEW.assignee_id, NEW.status, 1);
        ELSE
            PERFORM helpdesk_ticket_count_add(NEW.department_id, NEW.assignee_id, NEW.status, 1);
            PERFORM helpdesk_ticket_count_add(OLD.department_id, OLD.assignee_id, OLD.status, -1);
        END IF;
        RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS helpdesk_ticket_count_insert_delete ON helpdesk_ticket",
    "DROP TRIGGER IF EXISTS helpdesk_ticket_count_update ON helpdesk_ticket",
    """CREATE TRIGGER helpdesk_ticket_count_insert_delete AFTER INSERT OR DELETE
    ON helpdesk_ticket FOR EACH ROW EXECUTE FUNCTION helpdesk_ticket_count_trigger()""",
    """CREATE TRIGGER helpdesk_ticket_count_update
    AFTER UPDATE OF status, department_id, assignee_id ON helpdesk_ticket FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
        OR OLD.department_id IS DISTINCT FROM NEW.department_id
        OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id)
    EXECUTE FUNCTION helpdesk_ticket_count_trigger()""",
]
PG_COUNT_DROP = [
    "DROP FUNCTION IF EXISTS helpdesk_ticket_count_trigger() CASCADE",  # and its triggers
    "DROP FUNCTION IF EXISTS helpdesk_ticket_count_add(INTEGER, INTEGER, VARCHAR, INTEGER)",
]

# Made once every table exists (each create_all: the statements may run again), dropped with
# the tickets.
for _statement in SQLITE_COUNT_TRIGGERS:
    event.listen(
        HelpdeskModel.metadata, "after_create", DDL(_statement).execute_if(dialect="sqlite")
    )
for _statement in PG_COUNT_DDL:
    event.listen(
        HelpdeskModel.metadata, "after_create", DDL(_statement).execute_if(dialect="postgresql")
    )
for _statement in PG_COUNT_DROP:
    event.listen(Ticket.__table__, "before_drop", DDL(_statement).execute_if(dialect="postgresql"))
