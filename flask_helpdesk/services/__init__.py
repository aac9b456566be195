"""The services: the only code that changes helpdesk data.

Views, the API, mail intake and jobs parse input, then call a function here. Each validates,
checks permission (``permissions.ensure``), writes, records an audit event, fires its signal and
enqueues follow-up jobs that run after commit.
"""

from . import rules as _rules  # noqa: F401  (registers the rules engine's before-commit hook)
from .base import Conflict, Forbidden, NotFound, ServiceError, ValidationError

__all__ = ["Conflict", "Forbidden", "NotFound", "ServiceError", "ValidationError"]
