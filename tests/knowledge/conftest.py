"""Knowledge-base fixtures: a writer (an agent), a category and a quick way to write articles."""

from __future__ import annotations

import pytest

from flask_helpdesk.models import Article, ArticleStatus, ArticleVisibility
from flask_helpdesk.services import knowledge
from flask_helpdesk.services.agents import make_agent
from flask_helpdesk.services.identity import SYSTEM, Actor, agent_as_actor
from tests.conftest import make_member


@pytest.fixture
def minh(app):
    """The host member behind :func:`writer` (to log in to the desk as him)."""
    return make_member("Minh Tran", "minh@example.com")


@pytest.fixture
def writer(minh, departments) -> Actor:
    return agent_as_actor(make_agent(minh.get_id(), ["account"]))


@pytest.fixture
def category(app):
    return knowledge.create_category(
        SYSTEM,
        "account",
        {"en": "Your account", "vi": "Tài khoản của bạn", "fa": "حساب شما"},
    )


def write(
    actor: Actor,
    title: str,
    body: str = "",
    language: str = "en",
    status: ArticleStatus = ArticleStatus.PUBLISHED,
    visibility: ArticleVisibility = ArticleVisibility.PUBLIC,
    **more,
) -> Article:
    return knowledge.create_article(
        actor,
        knowledge.ArticleData(
            title=title,
            body_markdown=body,
            language=language,
            status=status,
            visibility=visibility,
            **more,
        ),
    )
