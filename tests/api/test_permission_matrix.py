"""The desk's permission matrix, repeated through the API: the same services decide, so each
caller sees and does exactly what they may in the portal or the desk; unseen reads as 404."""

from __future__ import annotations

import pytest

from tests.api.conftest import ApiClient, open_as, token_for

ACTIONS = ("read", "thread", "reply", "note", "priority")
# caller -> expected status of each action on a ticket of Lan's in Account.
MATRIX = {
    "owner": (200, 200, 201, 403, 403),
    "other customer": (404, 404, 404, 404, 404),
    "account agent": (200, 200, 201, 201, 200),
    "billing agent": (404, 404, 404, 404, 404),
    "admin": (200, 200, 201, 201, 200),
    "read-only service": (200, 200, 403, 403, 403),
}


def callers(app, customer, other_customer, agent, billing_agent, admin) -> dict[str, ApiClient]:
    return {
        "owner": ApiClient(app, member=customer),
        "other customer": ApiClient(app, member=other_customer),
        "account agent": ApiClient(app, token_for(agent)),
        "billing agent": ApiClient(app, token_for(billing_agent)),
        "admin": ApiClient(app, token_for(admin, scope="admin")),
        "read-only service": ApiClient(app, token_for(None, scope="read", kind="service")),
    }


def act(api: ApiClient, action: str, code: str) -> int:
    path = f"/tickets/{code}"
    if action == "read":
        return api.get(path).status_code
    if action == "thread":
        return api.get(f"{path}/messages").status_code
    if action in ("reply", "note"):
        body = {"body": f"{action} text", "internal": action == "note"}
        return api.post(f"{path}/messages", json=body).status_code
    etag = api.get(path).headers.get("ETag", "*")
    return api.patch(path, json={"priority": "urgent"}, headers={"If-Match": etag}).status_code


@pytest.mark.parametrize("caller", list(MATRIX))
def test_each_caller_gets_what_the_services_allow(
    app, departments, customer, other_customer, agent, billing_agent, admin, lan, reza, caller
):
    app.config["WTF_CSRF_ENABLED"] = False  # session calls: CSRF is tested on its own
    ticket = open_as(lan, departments["account"])
    api = callers(app, customer, other_customer, agent, billing_agent, admin)[caller]
    got = tuple(act(api, action, ticket.code) for action in ACTIONS)
    assert dict(zip(ACTIONS, got, strict=True)) == dict(zip(ACTIONS, MATRIX[caller], strict=True))
