"""API fixtures: the desk's people, tokens for them, and a client that sends the token."""

from __future__ import annotations

import json as jsonlib
from datetime import timedelta

import pytest

from flask_helpdesk.services.api_tokens import create_token
from flask_helpdesk.services.identity import SYSTEM
from tests.desk import conftest as desk_fixtures
from tests.views.conftest import isolated_client

# The desk's people, as fixtures here too.
admin = desk_fixtures.admin
agent = desk_fixtures.agent
billing_agent = desk_fixtures.billing_agent
other_agent = desk_fixtures.other_agent
lan = desk_fixtures.lan
reza = desk_fixtures.reza
open_as = desk_fixtures.open_as

API = "/support/api/v1"


class ApiClient:
    """Requests to the API with a bearer token, each in its own app context."""

    def __init__(self, app, token: str | None = None, member=None) -> None:
        self.client = isolated_client(app, member)
        self.token = token

    def request(self, method: str, path: str, json=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        if json is not None:
            kwargs["data"] = jsonlib.dumps(json)
            kwargs["content_type"] = "application/json"
        url = path if path.startswith("/") and path.startswith(API) else API + path
        return self.client.open(url, method=method, headers=headers, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def patch(self, path, **kwargs):
        return self.request("PATCH", path, **kwargs)


def token_for(staff=None, scope: str = "write", kind: str = "personal", days=None) -> str:
    agent = staff.actor.agent if staff is not None else None
    expires = timedelta(days=days) if days is not None else None
    return create_token(SYSTEM, "test", scope=scope, kind=kind, agent=agent, expires_in=expires)[1]


@pytest.fixture
def agent_api(app, agent) -> ApiClient:
    return ApiClient(app, token_for(agent))


@pytest.fixture
def admin_api(app, admin) -> ApiClient:
    return ApiClient(app, token_for(admin, scope="admin"))


@pytest.fixture
def billing_api(app, billing_agent) -> ApiClient:
    return ApiClient(app, token_for(billing_agent))


@pytest.fixture
def service_api(app) -> ApiClient:
    return ApiClient(app, token_for(None, kind="service"))
