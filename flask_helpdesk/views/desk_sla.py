"""The desk's SLA overview for admins: business calendars (hours, coming holidays) and SLA
policies in the order they are tried. Read-only: calendars, holidays and policies are edited
with ``flask helpdesk calendar ...`` / ``flask helpdesk sla ...`` (docs/sla.rst)."""

from __future__ import annotations

from ..businesstime import format_windows
from ..models import utcnow
from ..services.calendars import list_calendars, weekly_hours
from ..services.permissions import ensure
from ..services.sla_policies import ordered_policies
from .common import render
from .desk import bp, desk_actor

UPCOMING_HOLIDAYS = 10


@bp.get("/admin/sla")
def admin_sla():
    actor = desk_actor()
    ensure(actor, "manage")  # Forbidden -> 403 by the blueprint's error handler
    today = utcnow().date()
    calendars = [
        {
            "calendar": calendar,
            "hours": {day: format_windows(w) for day, w in weekly_hours(calendar).items()},
            "holidays": [h for h in calendar.holidays if h.active and h.day >= today][
                :UPCOMING_HOLIDAYS
            ],
        }
        for calendar in list_calendars()
    ]
    return render(
        "helpdesk/admin/sla.html", actor=actor, calendars=calendars, policies=ordered_policies()
    )
