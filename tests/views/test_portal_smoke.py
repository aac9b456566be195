from tests.conftest import client_for, post_form


def test_customer_opens_ticket_and_sees_it(app, departments, customer):
    client = client_for(app, customer)
    response = post_form(
        client,
        "/support/new",
        data={
            "department_id": departments["billing"].id,
            "subject": "Invoice missing",
            "priority": "2",
            "body": "Where is my invoice for October?",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Invoice missing" in page
    assert "Where is my invoice for October?" in page
    listing = client.get("/support/").get_data(as_text=True)
    assert "Invoice missing" in listing
