"""Admins see every inbound mail with what became of it, and retry failed mail from the page."""

from __future__ import annotations

import re

import pytest

from flask_helpdesk.models import InboundMail, InboundStatus
from flask_helpdesk.services.base import session
from tests.conftest import client_for, count_queries, post_form
from tests.desk.conftest import DESK
from tests.mail.conftest import ingest, make_mail, ticket_of

PAGE = f"{DESK}/inbound-mail/"


def _failed_mail(departments) -> InboundMail:
    """A mail that cannot be processed: no department is open to take it."""
    for department in departments.values():
        department.is_active = False
    session().commit()
    row = ingest(make_mail(subject="Nowhere to go", sender="Reza <reza@example.com>"))
    assert row.status == InboundStatus.FAILED
    return row


def test_admin_sees_the_failed_mail_with_its_reason_and_retries_it(app, support, admin):
    row = _failed_mail(support)
    client = client_for(app, admin.member)
    desk = client.get(f"{DESK}/").get_data(as_text=True)
    assert f'href="{PAGE}"' in desk  # the desk's navigation leads admins there
    page = client.get(f"{PAGE}?status=failed").get_data(as_text=True)
    assert "Nowhere to go" in page
    assert "reza@example.com" in page
    assert "no active department to open the ticket in" in page
    assert f'action="{PAGE}{row.id}/retry"' in page  # the retry button, on the list itself

    detail = client.get(f"{PAGE}{row.id}").get_data(as_text=True)
    assert "no active department" in detail
    assert "Subject: Nowhere to go" in detail  # the headers, never the body rendered as HTML

    # Still failing: the admin is told why, and the mail stays failed (nothing lost).
    response = post_form(client, PAGE, f"{PAGE}{row.id}/retry", follow_redirects=True)
    assert "no active department" in response.get_data(as_text=True)

    support["billing"].is_active = True
    session().commit()
    response = post_form(client, PAGE, f"{PAGE}{row.id}/retry", follow_redirects=True)
    assert "The mail was processed." in response.get_data(as_text=True)
    session().expire_all()
    done = session().get(InboundMail, row.id)
    assert done.status == InboundStatus.PROCESSED
    assert ticket_of(done).subject == "Nowhere to go"
    listed = client.get(PAGE).get_data(as_text=True)
    assert f'href="{DESK}/tickets/{ticket_of(done).code}"' in listed


def test_retry_needs_the_csrf_token(app, support, admin):
    row = _failed_mail(support)
    client = client_for(app, admin.member)
    response = client.post(f"{PAGE}{row.id}/retry")
    assert response.status_code in (400, 403)
    session().expire_all()
    assert session().get(InboundMail, row.id).status == InboundStatus.FAILED


def test_the_original_mail_downloads_as_an_attachment(app, support, admin):
    raw = make_mail(subject="Raw", html="<script>alert(1)</script><p>hi</p>")
    row = ingest(raw)
    response = client_for(app, admin.member).get(f"{PAGE}{row.id}/raw")
    assert response.status_code == 200
    assert response.data == raw
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.mimetype == "message/rfc822"


@pytest.mark.parametrize("who", ["agent", "customer", "anonymous"])
def test_only_admins_see_inbound_mail(app, support, agent, customer, who):
    row = _failed_mail(support)
    member = {"agent": agent.member, "customer": customer, "anonymous": None}[who]
    client = client_for(app, member)
    if who == "agent":
        assert f'href="{PAGE}"' not in client.get(f"{DESK}/").get_data(as_text=True)
    for response in (
        client.get(PAGE),
        client.get(f"{PAGE}{row.id}"),
        client.get(f"{PAGE}{row.id}/raw"),
        client.post(f"{PAGE}{row.id}/retry"),
    ):
        assert response.status_code in (302, 400, 401, 403, 404), response.status_code
        assert b"Nowhere to go" not in response.data
    if who == "agent":  # even with a valid CSRF token of a page the agent may see
        post_form(client, f"{DESK}/", f"{PAGE}{row.id}/retry")
    session().expire_all()
    assert session().get(InboundMail, row.id).attempts == 1


def test_the_list_costs_the_same_queries_for_5_or_40_mails(app, support, admin):
    client = client_for(app, admin.member)

    def queries_for(n: int) -> int:
        for i in range(n):
            ingest(make_mail(subject=f"Mail {i}", sender=f"c{i}-{n}@example.com"))
        client.get(PAGE)  # warm caches (translations, templates)
        session().remove()  # both measured requests start with an empty identity map
        with count_queries(app) as statements:
            page = client.get(PAGE).get_data(as_text=True)
        assert len(re.findall(r'class="hd-inbound-processed"', page)) >= min(n, 50)
        return len(statements)

    assert queries_for(5) == queries_for(35)
