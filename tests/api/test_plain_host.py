"""The API on a plain host app: its own error pages stay its own, bad input is 4xx JSON."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from flask import Flask
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy

from flask_helpdesk import Helpdesk
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.api_tokens import create_token
from flask_helpdesk.services.departments import create_department
from flask_helpdesk.services.identity import SYSTEM


@dataclass
class User:
    id: str
    email: str

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self) -> str:
        return self.id


USERS = {"7": User("7", "agent@example.com")}


@pytest.fixture
def plain(tmp_path):
    app = Flask("plain_host")
    app.config.update(
        SECRET_KEY="x",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'plain.sqlite'}",
        HELPDESK_STORAGE_PATH=str(tmp_path / "files"),
    )

    @app.errorhandler(404)
    def host_not_found(error):
        return "<h1>Our own 404 page</h1>", 404

    @app.errorhandler(500)
    def host_error(error):
        return "<h1>Our own 500 page</h1>", 500

    db = SQLAlchemy(app)
    login = LoginManager(app)
    login.user_loader(USERS.get)
    Helpdesk().init_app(app, db=db, user_loader=USERS.get)
    with app.app_context():
        app.extensions["helpdesk"].create_all()
        department = create_department(SYSTEM, "Sales", slug="sales")
        agent = make_agent("7", ["sales"])
        token = create_token(SYSTEM, "t", scope="write", agent=agent)[1]
        yield app, token, department
        db.session.remove()
        db.engine.dispose()


def test_host_pages_keep_the_hosts_html_errors(plain):
    app, _token, _department = plain
    response = app.test_client().get("/no/such/page")
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert b"Our own 404 page" in response.data


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/tickets", "{not json", 400),
        ("POST", "/tickets", '{"subject": 5}', 422),
        ("POST", "/tickets", '{"department_id": 99999999999999999999, "subject": "a"}', 422),
        ("POST", "/tickets", '["a list"]', 422),
        ("POST", "/tickets", '{"department_id": 1, "subject": "a\\u0000", "body": "b"}', 422),
        ("POST", "/tickets", '{"department_id": 1, "subject": "\\ud800", "body": "b"}', 422),
        ("GET", "/tickets?per_page=0", None, 422),
        ("GET", "/tickets?department=99999999999999999999", None, 422),
        ("GET", "/tickets?cursor=garbage", None, 422),
        ("GET", "/tickets?unknown=1", None, 422),
        ("GET", "/tickets?q=%00", None, 422),
        ("GET", "/contacts/99999999999999999999", None, 404),
        ("GET", "/tickets/HD-NOPE/attachments/99999999999999999999", None, 404),
        ("GET", "/tickets/%00", None, 404),
        ("DELETE", "/tickets", None, 405),
        ("GET", "/nowhere", None, 404),
    ],
)
def test_bad_input_is_a_problem_document_never_a_500(plain, method, path, body, status):
    app, token, _department = plain
    response = app.test_client().open(
        "/support/api/v1" + path,
        method=method,
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == status, response.data
    assert response.mimetype == "application/problem+json"
    assert response.json["status"] == status
    if status == 405:
        assert "GET" in response.headers["Allow"] and "POST" in response.headers["Allow"]


def test_a_plain_host_serves_the_document_and_opens_tickets(plain):
    app, token, department = plain
    client = app.test_client()
    document = client.get("/support/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.1")
    assert "/tickets/{code}" in document["paths"]
    page = client.get("/support/api/v1/docs")
    assert page.status_code == 200 and b"/tickets/{code}" in page.data
    assert b"<script src" not in page.data  # no CDN
    created = client.post(
        "/support/api/v1/tickets",
        json={
            "department_id": department.id,
            "subject": "From the shop backend",
            "body": "Order 42",
            "requester": "user:7",
        },
        headers={"Authorization": f"Bearer {token}"},
    )
    assert created.status_code == 201, created.json
