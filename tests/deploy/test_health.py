"""The load balancer's probes: liveness never touches the database, readiness checks the
database and Redis with short timeouts, answers 503 when one fails, and never shows an address or
a password."""

from __future__ import annotations

import os

import pytest

from tests.conftest import REDIS_URL_VARIABLE, count_queries, make_test_app


def test_live_answers_without_touching_the_database(app):
    client = app.test_client()
    with count_queries(app) as statements:
        response = client.get("/support/health/live")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"
    assert statements == []


def test_ready_checks_the_database(app):
    with count_queries(app) as statements:
        response = app.test_client().get("/support/health/ready")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert set(response.json["checks"]) == {"database"}  # jobs run inline: no Redis to ask
    assert response.json["checks"]["database"]["ok"] is True
    assert any("SELECT 1" in statement for statement in statements)


def test_both_probes_under_the_configured_prefix_without_login(_schema, database_url, tmp_path):
    app = make_test_app(database_url, tmp_path, HELPDESK_URL_PREFIX="/help")
    client = app.test_client()
    assert client.get("/help/health/live").status_code == 200
    assert client.get("/help/health/ready").status_code == 200
    assert client.get("/support/health/live").status_code == 404


def test_unreachable_database_is_not_ready_but_alive(tmp_path):
    # A database file in a folder that does not exist: every connection attempt fails.
    url = f"sqlite:///{tmp_path}/no/such/folder/helpdesk.sqlite"
    app = make_test_app(url, tmp_path)
    client = app.test_client()
    assert client.get("/support/health/live").status_code == 200
    response = client.get("/support/health/ready")
    assert response.status_code == 503
    assert response.json["status"] == "unavailable"
    assert response.json["checks"]["database"]["ok"] is False
    assert str(tmp_path) not in response.get_data(as_text=True)


def test_database_without_the_helpdesk_tables_is_not_ready(tmp_path):
    app = make_test_app(f"sqlite:///{tmp_path}/empty.sqlite", tmp_path)
    response = app.test_client().get("/support/health/ready")
    assert response.status_code == 503
    assert response.json["checks"]["database"] == {
        "ok": False,
        "ms": response.json["checks"]["database"]["ms"],
        "error": "LookupError",
    }


def test_unreachable_redis_is_not_ready_and_its_password_stays_hidden(
    _schema, database_url, tmp_path
):
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    url = "redis://:hunter2-secret@127.0.0.1:9/0"
    app = make_test_app(database_url, tmp_path, HELPDESK_REDIS_URL=url)
    response = app.test_client().get("/support/health/ready")
    assert response.status_code == 503
    checks = response.json["checks"]
    assert checks["database"]["ok"] is True
    assert checks["redis"]["ok"] is False
    body = response.get_data(as_text=True)
    assert "hunter2" not in body and "127.0.0.1" not in body


def test_ready_with_real_redis(_schema, database_url, tmp_path):
    redis_url = os.environ.get(REDIS_URL_VARIABLE)
    if not redis_url:
        pytest.skip(f"set {REDIS_URL_VARIABLE} to check readiness against a real Redis")
    app = make_test_app(database_url, tmp_path, HELPDESK_REDIS_URL=redis_url)
    response = app.test_client().get("/support/health/ready")
    assert response.status_code == 200, response.json
    assert response.json["checks"]["redis"]["ok"] is True
