"""Schemathesis against the served document: every operation, generated input, no 500, answers
as documented (status codes, content types, schemas), ``Allow`` on 405. Bounded: a few examples
per operation, so the whole file runs in well under a minute."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.api.conftest import API, open_as, token_for

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
]


@pytest.fixture
def served(app, departments, admin, lan):
    """The document as the app serves it, with a ticket to find and an admin token."""
    app.served_ids = {  # type: ignore[attr-defined]
        "code": open_as(lan, departments["account"]).code,
        "contact_id": lan.contact.id,
    }
    app.extensions["helpdesk"].config["HELPDESK_API_RATE_LIMIT"] = None
    app.config["WTF_CSRF_ENABLED"] = False
    app.served_token = token_for(admin, scope="admin")  # type: ignore[attr-defined]
    return schemathesis.openapi.from_wsgi(f"{API}/openapi.json", app)


def test_every_operation_answers_as_documented(app, served):
    headers = {"Authorization": f"Bearer {app.served_token}"}
    operations = [result.ok() for result in served.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case) -> None:
            # Real ids, so the generated bodies reach the services (random ones are all 404s).
            for name, value in app.served_ids.items():
                if case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()


def test_a_method_a_path_does_not_have_is_405_with_allow(app, served):
    client = app.test_client()
    for path, methods in served.raw_schema["paths"].items():
        concrete = path.replace("{code}", "HD-AAAAAA").replace("{contact_id}", "1")
        concrete = concrete.replace("{attachment_id}", "1").replace("{endpoint_id}", "1")
        concrete = concrete.replace("{delivery_id}", "1")
        response = client.put(API + concrete)
        assert response.status_code == 405, path
        allowed = {m.strip() for m in response.headers["Allow"].split(",")}
        assert {m.upper() for m in methods} <= allowed, path
