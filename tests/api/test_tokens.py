"""API tokens: shown once, stored hashed, scoped, expiring, revocable, rate-limited."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from flask_helpdesk.models import ApiToken, utcnow
from flask_helpdesk.services import api_tokens
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import SYSTEM
from tests.api.conftest import ApiClient, open_as, token_for
from tests.conftest import count_queries


def test_only_the_hash_and_a_visible_prefix_are_stored(app, agent):
    row, token = api_tokens.create_token(SYSTEM, "laptop", agent=agent.actor.agent)
    stored = session().scalar(select(ApiToken).where(ApiToken.id == row.id))
    assert token.startswith(f"hd_{stored.prefix}_")
    assert stored.secret_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr(vars(stored))


def test_read_scope_cannot_write(app, departments, agent, lan):
    ticket = open_as(lan, departments["account"])
    api = ApiClient(app, token_for(agent, scope="read"))
    assert api.get(f"/tickets/{ticket.code}").status_code == 200
    refused = api.post(f"/tickets/{ticket.code}/messages", json={"body": "hi"})
    assert refused.status_code == 403


def test_expired_revoked_and_forged_tokens_are_refused(app, departments, agent):
    expired_row, expired = api_tokens.create_token(
        SYSTEM, "old", agent=agent.actor.agent, expires_in=timedelta(days=1)
    )
    expired_row.expires_at = utcnow() - timedelta(seconds=1)
    session().commit()
    revoked_row, revoked = api_tokens.create_token(SYSTEM, "gone", agent=agent.actor.agent)
    api_tokens.revoke_token(SYSTEM, revoked_row.id)
    for token in (expired, revoked, revoked[:-1] + "x", "hd_\x00", "not-a-token"):
        response = ApiClient(app, token).get("/departments")
        assert response.status_code == 401, token
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_deactivated_agents_token_stops_working(app, departments, agent):
    token = token_for(agent)
    assert ApiClient(app, token).get("/departments").status_code == 200
    agent.actor.agent.is_active = False
    session().commit()
    assert ApiClient(app, token).get("/departments").status_code == 401


def test_last_used_is_written_once_not_per_request(app, departments, agent):
    api = ApiClient(app, token_for(agent))
    api.get("/departments")
    with count_queries(app) as statements:
        api.get("/departments")
    assert not [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    row = session().scalar(select(ApiToken))
    session().refresh(row)
    assert row.last_used_at is not None


def test_agents_cannot_mint_admin_or_service_tokens(app, agent, admin):
    import pytest

    from flask_helpdesk.services import Forbidden

    with pytest.raises(Forbidden):
        api_tokens.create_token(agent.actor, "x", scope="admin")
    with pytest.raises(Forbidden):
        api_tokens.create_token(agent.actor, "x", kind="service")
    with pytest.raises(Forbidden):
        api_tokens.create_token(agent.actor, "x", agent=admin.actor.agent)
    row, _token = api_tokens.create_token(admin.actor, "svc", kind="service", scope="admin")
    assert row.agent_id is None and row.kind == "service"
    # An agent sees and revokes only their own tokens.
    own, _token = api_tokens.create_token(agent.actor, "mine")
    assert [t.id for t in api_tokens.list_tokens(agent.actor)] == [own.id]


def test_cli_prints_the_token_once_and_revokes_it(app, departments, agent):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "helpdesk",
            "create-api-token",
            "ci",
            "--agent",
            agent.member.get_id(),
            "--scope",
            "write",
            "--days",
            "30",
        ]
    )
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert ApiClient(app, token).get("/departments").status_code == 200
    prefix = token.split("_")[1]
    result = runner.invoke(args=["helpdesk", "revoke-api-token", prefix])
    assert result.exit_code == 0, result.output
    assert ApiClient(app, token).get("/departments").status_code == 401
    result = runner.invoke(args=["helpdesk", "create-api-token", "x"])
    assert result.exit_code != 0


def test_rate_limit_answers_429_with_retry_after(app, departments, agent):
    app.extensions["helpdesk"].config["HELPDESK_API_RATE_LIMIT"] = "3/minute"
    api = ApiClient(app, token_for(agent))
    other = ApiClient(app, token_for(agent))
    statuses = [api.get("/departments").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = api.get("/departments")
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.mimetype == "application/problem+json"
    assert other.get("/departments").status_code == 200  # per token, not global
