"""services.base.new_row: a model's object made without its constructor (hot paths: a new
ticket, a department's copy, mail routing's rows read by Core queries) must be what the
constructor makes, also where nothing else touched the ORM before it: a fresh process (a
host's script or cron job, the first job of a worker the host starts itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIRST_ROWS_OF_A_PROCESS = """
from sqlalchemy.orm import make_transient_to_detached
from flask_helpdesk.models import Department, Ticket
from flask_helpdesk.services.base import new_row

assert not Ticket.__mapper__.configured  # nothing used the ORM yet in this process
department = new_row(Department, id=7, name="Billing", slug="billing")
make_transient_to_detached(department)  # as department_row and mail routing's rows do
ticket = new_row(Ticket, subject="Invoice charged twice", department_id=7)
ticket.department = department  # as ticket creation does
assert ticket.department is department and ticket.subject == "Invoice charged twice"
print("ok")
"""


def test_the_first_rows_a_fresh_process_makes_take_keys_and_relationships():
    result = subprocess.run(
        [sys.executable, "-c", FIRST_ROWS_OF_A_PROCESS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def _new_ticket_columns(**extra):
    from sqlalchemy import inspect

    from flask_helpdesk.models import Ticket

    values = {p.key: None for p in inspect(Ticket).column_attrs}
    values.update(id=41, code="KQWERT", subject="Invoice", department_id=7, **extra)
    return values


def _state_of(obj):
    from sqlalchemy import inspect

    state = inspect(obj)
    return {
        "key": state.key,
        "dict": dict(state.dict),
        "committed_state": dict(state.committed_state),
        "expired_attributes": set(state.expired_attributes),
        "callables": dict(state.callables),
        "modified": state.modified,
        "expired": state.expired,
        "strong": state._strong_obj,
        "pending": state.__dict__.get("_pending_mutations"),
        "unmodified": set(state.unmodified),
        "persistent": state.persistent,
        "detached": state.detached,
    }


def test_a_new_row_made_detached_is_what_the_orm_makes_of_it():
    """base.to_detached (ticket creation's new rows, the department's copy) leaves the state
    of a new object holding every column as ``make_transient_to_detached`` does: its identity,
    no history, nothing expired. Fails if a SQLAlchemy release keeps more in a state."""
    from sqlalchemy import inspect
    from sqlalchemy.orm import make_transient_to_detached

    from flask_helpdesk.models import Department, Message, Ticket
    from flask_helpdesk.services.base import new_row, to_detached

    for model, values in [
        (Ticket, _new_ticket_columns()),
        (Department, {p.key: None for p in inspect(Department).column_attrs} | {"id": 7}),
        (Message, {p.key: None for p in inspect(Message).column_attrs} | {"id": 3}),
    ]:
        made = []
        for detach in (lambda obj: make_transient_to_detached(obj),
                       lambda obj: to_detached(inspect(obj))):  # fmt: skip
            obj = new_row(model, **values)
            if model is Ticket:  # a relationship set, an attribute set through its event
                obj.department = new_row(Department, id=7)
                obj.priority = 3
            detach(obj)
            made.append(_state_of(obj))
        orm, ours = made
        assert ours.pop("dict").keys() == orm.pop("dict").keys()
        assert ours == orm
        assert orm["key"][1] == (values["id"],) and not orm["expired_attributes"]


def test_a_new_row_missing_a_column_is_made_detached_by_the_orm_expiring_it():
    from sqlalchemy import inspect

    from flask_helpdesk.models import Ticket
    from flask_helpdesk.services.base import new_row, to_detached

    values = _new_ticket_columns()
    del values["subject"]
    ticket = new_row(Ticket, **values)
    to_detached(inspect(ticket))
    assert inspect(ticket).key[1] == (41,)
    assert inspect(ticket).expired_attributes == {"subject"}  # loaded when read, as the ORM does
