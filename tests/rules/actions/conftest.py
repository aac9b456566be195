"""Rule actions that reach the outside world: the app wired to a real SMTP server (jobs inline)
and a real HTTP receiver for webhooks."""

from __future__ import annotations

from tests.api.test_webhooks import receiver  # noqa: F401
from tests.jobs.conftest import app, smtp  # noqa: F401
