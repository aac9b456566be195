"""Mail routing reads a reply's ticket and the sender's contact with Core statements compiled
once (services.prepared) and makes their objects without the ORM's query or the models'
constructors (mail_routing._loaded): the objects must be what the ORM would have loaded: the
same values of the same types, persistent and unchanged, their relationships loading, a change
to them written, and the session's own object (with its unsaved change) when it holds one."""

from __future__ import annotations

from sqlalchemy import inspect, select

from flask_helpdesk.models import Contact, Ticket
from flask_helpdesk.services import mail_routing
from flask_helpdesk.services.base import session
from tests.mail.conftest import ingest, make_mail


def _as_the_orm_reads(model: type, row_id: int) -> dict[str, object]:
    session().close()
    loaded = session().get(model, row_id)
    values = {p.key: getattr(loaded, p.key) for p in inspect(model).column_attrs}
    session().close()
    return values


def test_a_replys_ticket_and_contact_are_the_rows_the_orm_would_load(app, support):
    row = ingest(make_mail(sender="Lan <lan@example.com>", subject="Printer jammed"))
    ticket_id, contact_id = row.ticket_id, session().get(Ticket, row.ticket_id).requester_id
    expected_ticket = _as_the_orm_reads(Ticket, ticket_id)
    expected_contact = _as_the_orm_reads(Contact, contact_id)

    ticket = mail_routing._by_code(expected_ticket["code"])
    contact = mail_routing._contact_by_email("lan@example.com", "lan@example.com")
    for obj, expected in ((ticket, expected_ticket), (contact, expected_contact)):
        state = inspect(obj)
        assert state.persistent and not state.modified and obj not in session().dirty
        for key, value in expected.items():
            got = getattr(obj, key)
            assert got == value and type(got) is type(value), (key, got, value)
    assert ticket.department.id == ticket.department_id
    assert ticket.requester is contact  # the one object of that row in the session

    ticket.subject = "Printer still jammed"
    session().commit()
    session().close()
    assert session().get(Ticket, ticket_id).subject == "Printer still jammed"


def test_the_sessions_own_ticket_is_returned_with_its_unsaved_change(app, support):
    row = ingest(make_mail(subject="Invoice charged twice"))
    ticket = session().get(Ticket, row.ticket_id)
    ticket.subject = "Invoice charged twice (unsaved)"
    assert mail_routing._by_code(ticket.code) is ticket
    assert ticket.subject == "Invoice charged twice (unsaved)"
    session().rollback()
    session().expire_all()
    # Expired by the rollback: the same object again, read afresh.
    assert mail_routing._by_code(ticket.code) is ticket
    assert ticket.subject == "Invoice charged twice"
    assert session().scalars(select(Ticket.subject)).all() == ["Invoice charged twice"]
