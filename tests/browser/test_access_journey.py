"""Account access in a real browser: the agent asks from the desk, the customer accepts on the
portal, the agent acts under the banner, is refused the host's password page, stops, and the
customer reads the log. The journey is the one ``docs/screenshots.py`` photographs for the docs,
so the pictures cannot drift from what works."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from sqlalchemy import select

from flask_helpdesk.models import AccessGrant, AuditEvent, GrantStatus, ImpersonationLog
from flask_helpdesk.services.base import session

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "screenshots.py"


def _screenshots_module():
    spec = importlib.util.spec_from_file_location("helpdesk_docs_screenshots", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_consent_banner_refusal_and_log(browser, live_server, tmp_path):
    screenshots = _screenshots_module()
    code = screenshots.journey(browser, live_server.url, screenshots.screenshot_saver(tmp_path))

    shots = sorted(path.name for path in tmp_path.glob("*.png"))
    assert shots == [
        "access-banner.png",
        "access-consent.png",
        "access-log.png",
        "access-refused.png",
        "access-request.png",
    ]
    assert all(path.stat().st_size > 5_000 for path in tmp_path.glob("*.png"))
    session().expire_all()
    grant = session().scalar(select(AccessGrant))
    assert grant.ticket.code == code and grant.status == GrantStatus.ACCEPTED
    logged = [
        (row.method, row.path, row.status_code)
        for row in session().scalars(select(ImpersonationLog).order_by(ImpersonationLog.id))
    ]
    assert logged == [
        ("GET", f"/support/tickets/{code}", 200),
        ("GET", "/account/password", 403),
        ("POST", "/support/access/stop", 302),
    ]
    actions = session().scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("access.%")).order_by(AuditEvent.id)
    )
    assert list(actions) == [
        "access.requested",
        "access.granted",
        "access.impersonation_started",
        "access.impersonation_ended",
    ]
