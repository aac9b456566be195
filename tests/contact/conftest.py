"""The contact form's tests run on the app that mails through the real SMTP test server
(aiosmtpd, tests/jobs/conftest.py); jobs run inline."""

from tests.jobs.conftest import app, smtp  # noqa: F401
