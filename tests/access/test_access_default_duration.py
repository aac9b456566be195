"""``HELPDESK_ACCESS_GRANT_DURATION`` is what the desk's request form proposes, not a fixed 24 h."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.conftest import client_for


@pytest.mark.parametrize(
    ("duration", "shown"), [(timedelta(hours=8), "8"), (timedelta(days=2), "48")]
)
def test_the_request_form_proposes_the_configured_duration(app, agent, ticket, duration, shown):
    app.extensions["helpdesk"].config["HELPDESK_ACCESS_GRANT_DURATION"] = duration
    page = client_for(app, agent.member).get(f"/support/desk/tickets/{ticket.code}/access")
    assert page.status_code == 200
    field = re.search(r'<input[^>]*name="duration_hours"[^>]*>', page.get_data(as_text=True))
    assert field and f'value="{shown}"' in field.group(0)
