"""Helpers for the portal tests: an agent who answers through the services, file uploads,
and reading rows back without the test's own session state getting in the way."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_login import FlaskLoginClient
from sqlalchemy import func, select

from flask_helpdesk.models import HelpdeskModel
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.base import session
from flask_helpdesk.services.identity import Actor, agent_as_actor
from tests.conftest import make_member


@pytest.fixture
def agent(app, departments) -> Actor:
    """Minh, staff of every test department, acting through the services (no desk needed)."""
    member = make_member("Minh Tran", "minh@example.com")
    return agent_as_actor(make_agent(member.get_id(), list(departments)))


def upload(name: str, content: bytes = b"hello") -> tuple[io.BytesIO, str]:
    """A file field value for ``client.post(data=...)``."""
    return io.BytesIO(content), name


def count(model: type[HelpdeskModel]) -> int:
    return session().scalar(select(func.count()).select_from(model))


CODE_IN_URL = re.compile(r"/support/tickets/([A-Z0-9-]+)")


def code_from(location: str) -> str:
    match = CODE_IN_URL.search(location)
    assert match, location
    return match.group(1)


class RequestPerContextClient(FlaskLoginClient):
    """A test client whose every request runs in its own app context, as in production.

    The ``app`` fixture keeps an app context open for the whole test, and Flask reuses it for
    requests, so ``g`` (Flask-Login's current user, cached actors) and the SQLAlchemy session
    would carry over from one request to the next, and from one user's client to another's.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def isolated_client(app: Flask, member=None) -> FlaskClient:
    client = RequestPerContextClient(app, app.response_class, use_cookies=True, user=member)
    return client
