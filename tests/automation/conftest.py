"""Fixtures for automation (house rules): desk staff and customers, mail intake, and the app
wired to a real SMTP server (jobs inline) so the mails customers get can be read."""

from __future__ import annotations

from tests.desk.conftest import admin, agent, lan, reza  # noqa: F401
from tests.jobs.conftest import app, smtp  # noqa: F401
from tests.mail.conftest import support  # noqa: F401
