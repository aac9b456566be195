"""The desk's reports page and its CSV export: thin over services/reports.py.

Leads and admins see their departments' or every figure, an agent their own (the service's
scope). The page renders its charts as SVG on the server, each followed by its data table; the
CSV is streamed row by row, with every text cell a spreadsheet could run as a formula exported
as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, request, stream_with_context

from ..i18n import gettext as _
from ..services import ValidationError, reports
from ..services.identity import Actor
from .charts import Series, chart
from .common import render
from .desk import bp, desk_actor
from .formatting import localized_digits

# A cell starting with one of these is a formula to a spreadsheet (=HYPERLINK(...) runs on
# open); a leading apostrophe makes it text, shown as written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """*value* safe for a spreadsheet: text that would be read as a formula becomes text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def duration(seconds: float | None) -> str:
    """Working seconds as "2 h 05 min" / "45 min"; an em dash without data."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    if minutes < 60:
        return localized_digits(_("%(m)d min", m=minutes))
    return localized_digits(_("%(h)d h %(m)02d min", h=minutes // 60, m=minutes % 60))


def count(value: int | None) -> str:
    return "—" if value is None else str(value)


def percent(value: float | None) -> str:
    return "—" if value is None else localized_digits(f"{value:.0f} %")


def _inputs(actor: Actor) -> tuple[reports.Period, str, list[str]]:
    errors: list[str] = []
    try:
        period = reports.parse_period(request.args.get("first"), request.args.get("last"))
    except ValidationError as error:
        errors.append(error.message)
        period = reports.parse_period(None, None)
    by = request.args.get("by") or "department"
    if by not in reports.DIMENSIONS:
        errors.append(_("Unknown breakdown."))
        by = "department"
    return period, by, errors


def _rows(figures: dict[tuple[str, Any], reports.Figures], by: str) -> list[dict[str, Any]]:
    """The breakdown's rows: one per group seen in either period, busiest first."""
    groups = {group for (_period, group) in figures}
    labels = reports.group_labels(by, list(groups))
    empty = reports.Figures()
    rows = [
        {
            "group": group,
            "label": labels.get(group) if group is not None else _("Nobody"),
            "current": figures.get(("current", group), empty),
            "previous": figures.get(("previous", group), empty),
        }
        for group in groups
    ]
    rows.sort(key=lambda r: (-r["current"].created - r["current"].solved, str(r["label"])))
    return rows


@bp.get("/reports")
def reports_page():
    actor = desk_actor()
    period, by, errors = _inputs(actor)
    totals, groups = reports.overview(actor, period, by)
    empty = reports.Figures()
    current, previous = totals.get(("current", None), empty), totals.get(("previous", None), empty)
    opening, days = reports.daily(actor, period)
    labels = [d.day.strftime("%d.%m") for d in days]
    flow_chart = chart(
        _("Tickets created and solved per day"),
        _(
            "Bars per day from %(first)s to %(last)s; the table below has every value.",
            first=period.first.isoformat(),
            last=period.last.isoformat(),
        ),
        labels,
        [
            Series(_("Created"), [d.created for d in days]),
            Series(_("Solved"), [d.solved for d in days]),
        ],
    )
    backlog_chart = None
    if opening is not None:
        backlog_chart = chart(
            _("Backlog at the end of each day"),
            _(
                "Open tickets at the end of each day from %(first)s to %(last)s.",
                first=period.first.isoformat(),
                last=period.last.isoformat(),
            ),
            labels,
            [Series(_("Backlog"), [d.backlog for d in days])],
            kind="line",
        )
    return render(
        "helpdesk/desk/reports.html",
        actor=actor,
        period=period,
        by=by,
        dimensions=_dimension_labels(),
        errors=errors,
        current=current,
        previous=previous,
        opening=opening,
        days=days,
        flow_chart=flow_chart,
        backlog_chart=backlog_chart,
        breakdown=_rows(groups, by),
        duration=duration,
        count=count,
        percent=percent,
    )


def _dimension_labels() -> dict[str, str]:
    return {
        "department": _("Department"),
        "agent": _("Agent"),
        "channel": _("Channel"),
        "priority": _("Priority"),
    }


CSV_COLUMNS = (
    "period",
    "group",
    "created",
    "solved",
    "reopened",
    "backlog_at_end",
    "first_responses",
    "first_response_median_minutes",
    "first_response_p90_minutes",
    "resolution_median_minutes",
    "resolution_p90_minutes",
    "sla_compliance_percent",
    "sla_breaches",
    "csat_percent",
    "ratings",
)


def _csv_values(period_name: str, label: str, f: reports.Figures) -> list[Any]:
    def minutes(measure: str, p: float) -> float | None:
        value = f.time(measure, p)
        return None if value is None else round(value / 60, 1)

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return [
        period_name,
        label,
        f.created,
        f.solved,
        f.reopened,
        f.backlog,
        f.first_responses,
        minutes("first_response", 0.5),
        minutes("first_response", 0.9),
        minutes("resolution", 0.5),
        minutes("resolution", 0.9),
        rounded(f.sla_compliance),
        f.breaches,
        rounded(f.csat),
        f.rated,
    ]


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Each row as one CSV line, every cell through :func:`csv_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


@bp.get("/reports.csv")
def reports_csv():
    actor = desk_actor()
    period, by, errors = _inputs(actor)
    if errors:
        return Response("\n".join(errors), status=400, mimetype="text/plain")
    rows = _rows(reports.compare(actor, period, by), by)

    def generate() -> Iterator[list[Any]]:
        yield list(CSV_COLUMNS)
        for row in rows:
            label = str(row["label"] or "")
            yield _csv_values(f"{period.first}..{period.last}", label, row["current"])
            previous = period.previous
            yield _csv_values(f"{previous.first}..{previous.last}", label, row["previous"])

    name = f"helpdesk-report-{by}-{period.first}-{period.last}.csv"
    return Response(
        stream_with_context(csv_lines(generate())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
