"""The demo host shows the desk with the seeded agents: the login page says who is what, and each
demo login sees the desk their role and departments give them."""

from __future__ import annotations

import re

from example_app import DEMO_PASSWORD
from example_app.views import DEMO_LOGINS_SHOWN
from flask_helpdesk.services.demo import seed_demo
from tests.conftest import count_queries, csrf_from, make_member
from tests.desk.conftest import DESK


def _log_in(app, email: str):
    client = app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post(
        "/login", data={"csrf_token": token, "email": email, "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302, email
    return client


def _row(html: str, email: str) -> str:
    match = re.search(rf"<tr>\s*<td><code>{re.escape(email)}</code>.*?</tr>", html, re.S)
    assert match, email
    return re.sub(r"<[^>]+>", " ", match.group(0))


def test_login_page_lists_the_demo_logins_with_their_desk_roles(app):
    seed_demo()
    html = app.test_client().get("/login").get_data(as_text=True)
    assert "Demo accounts (password: demo)" in html
    assert "customer" in _row(html, "lan@example.com")
    minh = _row(html, "minh@example.com")
    assert "Agent:" in minh and "Account" in minh and "Campaign management" in minh
    assert "Department lead:" in _row(html, "sara@example.com")
    assert "Admin: all departments" in _row(html, "admin@example.com")


def test_each_demo_login_sees_the_desk_of_their_role(app):
    seed_demo()
    minh = _log_in(app, "minh@example.com")
    home = minh.get("/").get_data(as_text=True)
    assert f'href="{DESK}/"' in home  # the desk link in the host's menu and home page
    queue = minh.get(DESK + "/").get_data(as_text=True)
    assert "Campaign stuck in review" in queue  # Campaign management: his
    assert "Reconciliation for October differs" not in queue  # Revenue: Sara's
    assert "Partnership proposal" not in queue
    assert f'href="{DESK}/admin/agents"' not in queue
    mine = minh.get(DESK + "/?view=mine").get_data(as_text=True)
    assert "Campaign stuck in review" in mine

    sara = _log_in(app, "sara@example.com").get(DESK + "/?view=mine").get_data(as_text=True)
    assert "Reconciliation for October differs" in sara

    admin = _log_in(app, "admin@example.com")
    queue = admin.get(DESK + "/").get_data(as_text=True)
    for subject in ("Campaign stuck in review", "Reconciliation for October differs"):
        assert subject in queue
    assert f'href="{DESK}/admin/agents"' in queue
    agents = admin.get(DESK + "/admin/agents").get_data(as_text=True)
    assert "Minh Tran" in agents and "Sara Ahmadi" in agents and "Department lead" in agents

    assert _log_in(app, "lan@example.com").get(DESK + "/").status_code == 403


def test_login_page_lists_a_few_demo_logins_however_many_members(app):
    """A site with hundreds of members renders a bounded login page (the load test's 400
    customers made it the slowest page); a member not listed still logs in."""
    seed_demo()
    for i in range(40):
        make_member(f"Member {i:02d}", f"zz-member{i:02d}@example.com")
    client = app.test_client()
    with count_queries(app) as statements:
        html = client.get("/login").get_data(as_text=True)
    assert html.count("<tr>\n    <td><code>") == DEMO_LOGINS_SHOWN
    assert "admin@example.com" in html  # the first by email are shown, with their desk roles
    assert "Admin: all departments" in _row(html, "admin@example.com")
    assert "zz-member39@example.com" not in html
    assert "every other member logs in with their own email" in html
    assert len(statements) <= 3  # the members shown and their agents (with departments)
    token = csrf_from(html)
    response = client.post(
        "/login",
        data={"csrf_token": token, "email": "zz-member39@example.com", "password": "secret"},
    )
    assert response.status_code == 302
