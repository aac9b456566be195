from sqlalchemy import inspect, select
from flask_helpdesk.models import Contact, Ticket
from flask_helpdesk.services import mail_routing
from flask_helpdesk.services.base import session
from tests.mail.conftest import ingest, make_mail


def test_rows_read_by_prepared_match_the_orm(app, support):
    row = ingest(make_mail(subject="hello"))
    ticket_id = row.ticket_id
    session().close()
    loaded = mail_routing._by_code(session().get(Ticket, ticket_id).code)
    session().close()
    orm = session().execute(select(Ticket.__table__).where(Ticket.__table__.c.id == ticket_id)).first()
    loaded = mail_routing._by_code(orm.code)
    assert inspect(loaded).persistent and not session().dirty and not inspect(loaded).modified
    for column in Ticket.__table__.c:
        key = inspect(Ticket).get_property_by_column(column).key
        a, b = getattr(loaded, key), orm._mapping[column.name]
        assert a == b and type(a) is type(b), (key, a, b)
    assert loaded.department.id == loaded.department_id and loaded.requester.id == loaded.requester_id
    loaded.subject = "changed"
    session().flush()
    session().commit()
    session().close()
    assert session().get(Ticket, ticket_id).subject == "changed"
    contact = mail_routing._contact_by_email("lan@example.com", "lan@example.com")
    orm_c = session().execute(select(Contact.__table__).where(Contact.__table__.c.id == contact.id)).first()
    for column in Contact.__table__.c:
        key = inspect(Contact).get_property_by_column(column).key
        a, b = getattr(contact, key), orm_c._mapping[column.name]
        assert a == b and type(a) is type(b), (key, a, b)
