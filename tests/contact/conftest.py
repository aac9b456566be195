"""The contact form's tests run on the app that mails through the real SMTP test server
(aiosmtpd, tests/jobs/conftest.py); jobs run inline. The desk's agent and customer train the
spam filter."""

from tests.desk.conftest import agent, lan  # noqa: F401
from tests.jobs.conftest import app, smtp  # noqa: F401
