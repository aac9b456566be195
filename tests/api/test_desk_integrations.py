"""API tokens and webhooks managed in the desk: secrets shown once, admins only where it says."""

from __future__ import annotations

import re

from flask_helpdesk.services import webhooks
from tests.api.conftest import ApiClient, open_as
from tests.conftest import post_form
from tests.views.conftest import isolated_client

DESK = "/support/desk"
TOKEN = re.compile(r'<code class="hd-secret">(hd_[^<]+)</code>')


def test_an_agent_creates_a_token_in_the_desk_and_sees_it_once(app, departments, agent, lan):
    open_as(lan, departments["account"])
    client = isolated_client(app, agent.member)
    page = post_form(
        client, f"{DESK}/api-tokens", data={"name": "laptop", "scope": "write", "kind": "personal"}
    )
    assert page.status_code == 200
    token = TOKEN.search(page.get_data(as_text=True)).group(1)
    assert len(ApiClient(app, token).get("/tickets").json["items"]) == 1
    listing = client.get(f"{DESK}/api-tokens").get_data(as_text=True)
    assert token not in listing and f"hd_{token.split('_')[1]}_" in listing
    # Revoked from the desk: the next call is refused.
    token_id = re.search(r"/api-tokens/(\d+)/revoke", listing).group(1)
    post_form(client, f"{DESK}/api-tokens", f"{DESK}/api-tokens/{token_id}/revoke")
    assert ApiClient(app, token).get("/tickets").status_code == 401


def test_an_agent_cannot_forge_a_service_or_admin_token(app, departments, agent):
    client = isolated_client(app, agent.member)
    for forged in ({"kind": "service", "scope": "read"}, {"kind": "personal", "scope": "admin"}):
        page = post_form(client, f"{DESK}/api-tokens", data={"name": "x", **forged})
        assert page.status_code == 403
        assert not TOKEN.search(page.get_data(as_text=True))


def test_admins_manage_webhooks_in_the_desk(app, departments, admin, agent, lan):
    client = isolated_client(app, admin.member)
    page = post_form(
        client,
        f"{DESK}/admin/webhooks",
        data={"url": "https://example.com/hook", "events": "ticket.created", "description": "CRM"},
    )
    assert page.status_code == 200
    assert re.search(r'<code class="hd-secret">whsec_', page.get_data(as_text=True))
    endpoint = webhooks.list_endpoints(admin.actor)[0]
    open_as(lan, departments["account"])
    log = client.get(f"{DESK}/admin/webhooks/{endpoint.id}").get_data(as_text=True)
    assert "ticket.created" in log and "pending" in log
    assert isolated_client(app, agent.member).get(f"{DESK}/admin/webhooks").status_code == 403
