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
