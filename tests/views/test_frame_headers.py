"""The helpdesk's pages refuse to be framed by other sites (clickjacking of the one-click consent
prompt and desk actions, issue 10 §1), configurable through HELPDESK_FRAME_ANCESTORS."""

from __future__ import annotations

import pytest

from tests.conftest import client_for, make_member

PAGES = ["/support/", "/support/new", "/support/desk/", "/support/tickets/HD-NOPE00"]


@pytest.fixture
def boss(app, departments):
    return make_member("Boss", admin=True)


@pytest.mark.parametrize("path", PAGES)
def test_helpdesk_pages_may_be_framed_by_the_site_only(app, boss, path):
    response = client_for(app, boss).get(path)
    if path.endswith("NOPE00"):
        assert response.status_code == 404
    assert "frame-ancestors 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_redirects_and_anonymous_pages_too(app):
    response = app.test_client().get("/support/")
    assert response.status_code == 302  # to the host's login
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"


def test_the_hosts_own_pages_are_left_to_the_host(app, boss):
    response = client_for(app, boss).get("/")
    assert "X-Frame-Options" not in response.headers
    assert "Content-Security-Policy" not in response.headers


def test_an_attachments_policy_keeps_its_sandbox_and_gains_frame_ancestors(app):
    from flask import Response

    from flask_helpdesk.views.headers import add_frame_headers

    response = Response("x", headers={"Content-Security-Policy": "default-src 'none'; sandbox"})
    with app.test_request_context("/support/tickets/HD-X/files/1/a.txt") as context:
        context.request.url_rule = next(
            rule for rule in app.url_map.iter_rules() if rule.endpoint == "helpdesk.download"
        )
        policy = add_frame_headers(response).headers["Content-Security-Policy"]
    assert policy == "default-src 'none'; sandbox; frame-ancestors 'self'"


@pytest.mark.parametrize(
    ("setting", "policy", "legacy"),
    [
        ("'none'", "frame-ancestors 'none'", "DENY"),
        (
            "'self' https://intranet.example.com",
            "frame-ancestors 'self' https://intranet.example.com",
            None,
        ),
        (None, None, None),
    ],
)
def test_the_policy_is_configurable(app, boss, setting, policy, legacy):
    app.extensions["helpdesk"].config["HELPDESK_FRAME_ANCESTORS"] = setting
    response = client_for(app, boss).get("/support/")
    assert response.headers.get("Content-Security-Policy") == policy
    assert response.headers.get("X-Frame-Options") == legacy
