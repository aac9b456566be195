"""A fresh install without any department: the customer's form has no empty required select,
and the request is filed in the fallback department ``general``."""

from __future__ import annotations

from sqlalchemy import select

from flask_helpdesk.models import Department, Ticket
from flask_helpdesk.services.base import session
from tests.conftest import client_for, post_form


def test_the_form_works_before_any_department_exists(app, customer):
    client = client_for(app, customer)
    page = client.get("/support/new")
    assert page.status_code == 200
    assert 'name="department_id"' not in page.get_data(as_text=True)
    response = post_form(
        client, "/support/new", data={"subject": "Hello", "body": "First request", "priority": "2"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    ticket = session().scalar(select(Ticket))
    assert ticket.department.slug == "general" and ticket.department.name == "General"
    # The next request goes there too, and the portal lists it translated.
    post_form(client, "/support/new", data={"subject": "Again", "body": "Second", "priority": "2"})
    assert session().scalar(select(Department.slug)) == "general"
    assert len(session().scalars(select(Department)).all()) == 1


def test_with_departments_the_customer_still_chooses(app, departments, customer):
    page = client_for(app, customer).get("/support/new").get_data(as_text=True)
    assert 'name="department_id"' in page
    response = post_form(
        client_for(app, customer), "/support/new", data={"subject": "x", "body": "y"}
    )
    assert response.status_code == 422
    assert "Please choose a department." in response.get_data(as_text=True)
