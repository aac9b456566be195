"""Dates, ages and sizes as pages write them: one format everywhere, Solar Hijri with Persian
digits in Persian, and the customer's access log in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from flask import render_template
from flask_babel import force_locale
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_helpdesk.models import ImpersonationLog, Priority, TicketStatus
from flask_helpdesk.views.access_log import describe
from flask_helpdesk.views.formatting import (
    filesize,
    format_ago,
    format_datetime,
    format_datetime_zone,
    localized_digits,
)
from tests.conftest import make_test_app

MOMENT = datetime(2026, 12, 6, 9, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("lang", "shown"),
    [("en", "Dec 6, 2026, 09:20"), ("vi", "6 thg 12, 2026, 09:20"), ("fa", "۱۵ آذر ۱۴۰۵، ۰۹:۲۰")],
)
def test_one_date_format_per_language(app, lang, shown):
    with app.test_request_context(), force_locale(lang):
        assert format_datetime(MOMENT) == shown
        # Stored without a zone (SQLite) is the same UTC moment.
        assert format_datetime(MOMENT.replace(tzinfo=None)) == shown


def test_persian_new_year_is_the_first_of_farvardin(app):
    with app.test_request_context(), force_locale("fa"):
        assert format_datetime(datetime(2027, 3, 21, 12, 0, tzinfo=UTC)).startswith(
            "۱ فروردین ۱۴۰۶"
        )


# The app only supplies the request context; nothing in it changes between examples.
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)))
def test_every_persian_date_has_only_persian_digits(app, moment):
    with app.test_request_context(), force_locale("fa"):
        text = format_datetime(moment)
    assert not any(ch in "0123456789" for ch in text), text


def test_ages_read_in_the_pages_language(app):
    now = MOMENT
    with app.test_request_context(), force_locale("en"):
        assert format_ago(now - timedelta(hours=3), now) == "3 hours ago"
        assert format_ago(now - timedelta(seconds=5), now) == "just now"
    with app.test_request_context(), force_locale("vi"):
        assert format_ago(now - timedelta(hours=3), now) == "3 giờ trước"
    with app.test_request_context(), force_locale("fa"):
        assert format_ago(now - timedelta(hours=3), now) == "۳ ساعت پیش"


def test_sizes_in_persian_use_persian_digits(app):
    with app.test_request_context(), force_locale("fa"):
        assert filesize(12_800) == "۱۲٫۵ کیلوبایت"
    with app.test_request_context(), force_locale("en"):
        assert filesize(0) == "0 bytes" and filesize(-5) == "0 bytes"


@pytest.mark.parametrize(
    ("method", "path", "endpoint", "status", "line"),
    [
        (
            "GET",
            "/support/tickets/HD-4F7K2Q",
            "helpdesk.ticket",
            200,
            "Opened support request HD-4F7K2Q",
        ),
        (
            "POST",
            "/support/tickets/HD-4F7K2Q/reply",
            "helpdesk.reply",
            302,
            "Saved reply on HD-4F7K2Q",
        ),
        ("GET", "/account/password", "site.change_password", 403, "Refused: change password"),
        ("POST", "/support/access/stop", "helpdesk_access.stop", 302, "Ended the session"),
        ("GET", "/nowhere", None, 404, "Refused: /nowhere"),
    ],
)
def test_access_log_lines_read_as_words(app, method, path, endpoint, status, line):
    entry = ImpersonationLog(method=method, path=path, endpoint=endpoint, status_code=status)
    with app.test_request_context(), force_locale("en"):
        assert describe(entry) == line


@pytest.mark.parametrize(
    ("lang", "shown"),
    [
        ("en", "Dec 6, 2026, 09:20 UTC"),
        ("vi", "6 thg 12, 2026, 09:20 UTC"),
        ("fa", "۱۵ آذر ۱۴۰۵، ۰۹:۲۰ UTC"),
    ],
)
def test_mail_dates_are_in_the_readers_language_with_their_zone(app, lang, shown):
    """The SLA warning and the access answer are read in a mail client, away from the page: the
    same format as the pages (Solar Hijri and Persian digits in Persian), with the zone."""
    event = SimpleNamespace(target="first_response", kind="breached", due_at=MOMENT)
    ticket = SimpleNamespace(
        code="HD-ABC123",
        subject="Invoice",
        department=SimpleNamespace(name="Billing"),
        priority=Priority.HIGH,
        status=TicketStatus.OPEN,
    )
    grant = SimpleNamespace(
        expires_at=MOMENT,
        status=SimpleNamespace(value="accepted", label="accepted"),
        contact=SimpleNamespace(display_name="Lan Nguyen"),
    )
    with app.test_request_context(), force_locale(lang):
        for name in ("sla_event.txt", "sla_event.html"):
            text = render_template(f"helpdesk/mail/{name}", event=event, ticket=ticket, url="/x")
            assert shown in text and "2026-12-06" not in text
        for name in ("access_answered.txt", "access_answered.html"):
            text = render_template(f"helpdesk/mail/{name}", grant=grant, ticket=ticket, url="/x")
            assert shown in text and "2026-12-06" not in text


def test_mail_dates_follow_the_hosts_time_zone(app, database_url, tmp_path):
    host = make_test_app(database_url, tmp_path, BABEL_DEFAULT_TIMEZONE="Asia/Ho_Chi_Minh")
    with host.test_request_context(), force_locale("vi"):
        assert format_datetime_zone(MOMENT) == "6 thg 12, 2026, 16:20 +07"


def test_persian_digits_keep_a_sentences_full_stop(app):
    with app.test_request_context(), force_locale("fa"):
        assert localized_digits("2.5 KB") == "۲٫۵ KB"
        assert localized_digits("Held 3 mails.") == "Held ۳ mails."
        assert localized_digits("v1.2.") == "v۱٫۲."
