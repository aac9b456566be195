"""How the helpdesk learns about the host's users.

The host keeps its users; the helpdesk only needs an id (Flask-Login's ``get_id()``), a few
display facts and whether the user is an admin. Defaults read common attribute names; a host
overrides any of them with decorators (``@helpdesk.user_info``, ``@helpdesk.is_admin``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

NAME_ATTRIBUTES = ("name", "display_name", "full_name", "username")


@dataclass(frozen=True)
class UserInfo:
    """What the helpdesk mirrors of a host user into its Contact/Agent rows."""

    email: str | None = None
    name: str = ""
    phone: str | None = None
    locale: str | None = None
    # An IANA zone ("Europe/Berlin"): times shown to this user, the SLA promise included.
    timezone: str | None = None


def default_user_info(user: Any) -> UserInfo:
    name = ""
    for attribute in NAME_ATTRIBUTES:
        value = getattr(user, attribute, None)
        if value:
            name = str(value)
            break
    return UserInfo(
        email=getattr(user, "email", None) or None,
        name=name,
        phone=getattr(user, "phone", None) or None,
        locale=getattr(user, "locale", None) or None,
        timezone=getattr(user, "timezone", None) or getattr(user, "time_zone", None) or None,
    )


def default_is_admin(user: Any) -> bool:
    return bool(getattr(user, "is_admin", False))


def coerce_user_info(value: UserInfo | dict[str, Any]) -> UserInfo:
    """Accept a :class:`UserInfo` or a plain dict from a host's ``@user_info`` function."""
    if isinstance(value, UserInfo):
        return value
    return UserInfo(**{k: v for k, v in value.items() if k in UserInfo.__dataclass_fields__})


UserInfoCallback = Callable[[Any], UserInfo | dict[str, Any]]
IsAdminCallback = Callable[[Any], bool]
UserLoader = Callable[[str], Any]
