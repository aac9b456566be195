"""flask-helpdesk: a complete support desk for any Flask site, tied to the site's own users."""

from . import signals
from .extension import Helpdesk, HelpdeskState, current_helpdesk
from .users import UserInfo
from .version import __version__
from .views.guard import never_impersonated

__all__ = [
    "Helpdesk",
    "HelpdeskState",
    "UserInfo",
    "__version__",
    "current_helpdesk",
    "never_impersonated",
    "signals",
]
