"""The SMTP envelope sender (MAIL FROM) an MTA or a provider hands over: stored apart from the
headers, a bounce when it is the null sender, a loop when it is ours, shown to admins.

The shapes come from real deliveries: Postfix's pipe expands ``${sender}`` to nothing for a
bounce; a forwarder (a university alias, a Google Group) rewrites ``From`` of a bounce or of
our own notification and keeps the envelope; Mailgun's routes post the envelope as a form field
``sender`` next to ``body-mime``; SMTPUTF8 mail (RFC 6531) has a non-ASCII MAIL FROM.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from flask_helpdesk.mail.noise import detect_noise
from flask_helpdesk.mail.peek import BadEnvelopeSender, clean_envelope_sender
from flask_helpdesk.models import InboundMail, InboundStatus, Ticket
from flask_helpdesk.services import intake
from flask_helpdesk.services.base import session
from tests.conftest import client_for
from tests.desk.conftest import DESK
from tests.mail.conftest import ingest, make_mail, ticket_of
from tests.mail.test_mail_channels import TOKEN, post

# A bounce as a forwarder relays it: the DSN's From rewritten to the forwarding address, no
# multipart/report left (the forwarder flattened it), no Return-Path. Only the envelope says.
FORWARDED_BOUNCE = make_mail(
    subject="Undelivered Mail Returned to Sender",
    body="This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you...",
    sender="Alumni forwarding <alumni-fwd@uni.example.edu>",
)


def _count(model) -> int:
    session().expire_all()
    return session().scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(
    ("given_value", "stored"),
    [
        (None, None),  # not handed over
        ("", "<>"),  # Postfix ${sender} of a bounce
        ("<>", "<>"),
        (" < > ", "<>"),
        ("<Lan@Example.COM>", "Lan@example.com"),  # brackets off, domain lowercased
        ("lan@bücher.example", "lan@xn--bcher-kva.example"),  # IDN domain in ASCII
        ("用户@例子.广告", "用户@xn--fsqu00a.xn--4rr70v"),  # SMTPUTF8 local part kept
        ("MAILER-DAEMON", "MAILER-DAEMON"),  # sendmail's name for the null sender
        ("lan\x00@exam\x00ple.com", "lan@example.com"),  # NULs dropped (PostgreSQL refuses)
        ("\x00", None),  # a script's empty C string: no sender given, not the null sender
        ("\x01\x7f\u200b", None),  # controls only: the same
        ("<\x00>", "<>"),
        # Controls Python counts as white space (file and unit separators, vertical tab, form
        # feed, NEL): junk too, not an empty value, so not the null sender either.
        ("\x1f", None),
        ("\x1c\x0b\x0c", None),
        (" \x85\u2028 ", None),
        ("\xa0", None),  # a no-break space only
        (" \t\r\n", "<>"),  # an empty value with a careless script's line break: null sender
        ("<lan@example.com>\r\n", "lan@example.com"),  # the line break of a careless script
    ],
)
def test_envelope_senders_are_cleaned(given_value, stored):
    assert clean_envelope_sender(given_value) == stored


def test_an_overlong_envelope_sender_is_refused():
    with pytest.raises(BadEnvelopeSender, match="254"):
        clean_envelope_sender("a" * 250 + "@example.com")
    assert clean_envelope_sender("a" * 242 + "@example.com")  # 254 exactly is allowed


@given(st.text(max_size=300))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_any_envelope_sender_is_stored_cleaned_or_refused(value):
    """Whatever an MTA or a provider sends: a storable value or a clear refusal."""
    try:
        stored = clean_envelope_sender(value)
    except BadEnvelopeSender:
        return
    if stored is None:  # NULs and controls only: not given (and not a bounce)
        assert value.strip(" \t\r\n") and not "".join(c for c in value if c.isprintable()).strip()
        return
    assert 0 < len(stored) <= 254
    assert "\x00" not in stored and stored.isprintable()
    stored.encode("utf-8")  # no lone surrogates: every database takes it


def test_the_null_sender_is_a_bounce_whatever_the_headers_say(app, support):
    row = ingest(FORWARDED_BOUNCE, envelope_sender="")
    assert row.envelope_sender == "<>"
    assert (row.status, row.reason) == (InboundStatus.IGNORED, "noise: bounce")
    assert _count(Ticket) == 0
    daemon = ingest(FORWARDED_BOUNCE.replace(b"Undelivered", b"Undeliverable"),
                    envelope_sender="MAILER-DAEMON@mx.example.net")  # fmt: skip
    assert (daemon.status, daemon.reason) == (InboundStatus.IGNORED, "noise: bounce")
    # The same mail with a person's envelope is a person's mail.
    person = ingest(FORWARDED_BOUNCE.replace(b"Undelivered", b"Not delivered"),
                    envelope_sender="alumni-fwd@uni.example.edu")  # fmt: skip
    assert person.status == InboundStatus.PROCESSED


def test_detect_noise_reads_the_envelope():
    assert detect_noise(FORWARDED_BOUNCE) is None
    assert detect_noise(FORWARDED_BOUNCE, envelope_sender="<>") == "bounce"
    assert detect_noise(FORWARDED_BOUNCE, envelope_sender="postmaster@example.net") == "bounce"
    assert detect_noise(FORWARDED_BOUNCE, envelope_sender="lan@example.com") is None


def test_our_own_mail_forwarded_back_is_a_loop(app, support):
    """A forwarder rewrote From of our notification; its envelope is still our address."""
    raw = make_mail(subject="New request: printer", sender="Alias <alias@lists.example.org>")
    row = ingest(raw, envelope_sender="<Support@Example.com>")
    assert row.status == InboundStatus.IGNORED
    assert row.reason == "loop: the mail came from the helpdesk itself"
    assert _count(Ticket) == 0


def test_a_mail_without_sender_headers_is_filed_under_the_envelope_sender(app, support):
    raw = make_mail(subject="Cron output", body="Disk 91% full").replace(
        b"From: Lan Nguyen <lan@example.com>\n", b""
    )
    assert b"From:" not in raw
    row = ingest(raw, envelope_sender="root@backup.example.org")
    assert row.sender == "root@backup.example.org"  # shown in the list before processing too
    assert row.status == InboundStatus.PROCESSED, row.reason
    assert ticket_of(row).requester.email == "root@backup.example.org"


def test_ingest_mail_takes_the_sender_option(app, support):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["helpdesk", "ingest-mail", "--sender", ""], input=FORWARDED_BOUNCE)
    assert result.exit_code == 0, result.output
    row = session().scalar(select(InboundMail))
    assert (row.envelope_sender, row.status) == ("<>", InboundStatus.IGNORED)

    result = runner.invoke(
        args=["helpdesk", "ingest-mail", "--sender", "<Lan@Example.com>"],
        input=make_mail(subject="Piped with an envelope"),
    )
    assert result.exit_code == 0, result.output
    piped = session().scalar(select(InboundMail).where(InboundMail.id != row.id))
    assert piped.envelope_sender == "Lan@example.com"
    assert piped.status == InboundStatus.PROCESSED


def test_ingest_mail_keeps_the_mail_when_the_sender_option_is_unusable(app, support):
    """A pipe never loses a mail over an argument: stored without it, and said so."""
    result = app.test_cli_runner().invoke(
        args=["helpdesk", "ingest-mail", "--sender", "x" * 300 + "@example.com"],
        input=make_mail(subject="Odd envelope"),
    )
    assert result.exit_code == 0, result.output
    assert "envelope sender not kept" in result.output  # stderr is mixed in by the runner
    row = session().scalar(select(InboundMail))
    assert (row.subject, row.envelope_sender) == ("Odd envelope", None)
    assert row.status == InboundStatus.PROCESSED


@pytest.fixture
def hook_app(app, support):
    app.extensions["helpdesk"].config["HELPDESK_INBOUND_MAIL_TOKEN"] = TOKEN
    return app


def test_webhook_takes_the_sender_from_the_query_or_the_form(hook_app):
    response = post(hook_app, FORWARDED_BOUNCE, query_string={"sender": "<>"})
    assert response.status_code == 202, response.json
    row = session().get(InboundMail, response.json["id"])
    assert (row.envelope_sender, row.status) == ("<>", InboundStatus.IGNORED)

    # Mailgun's route: the raw mail in body-mime, the envelope in the form's "sender".
    raw = make_mail(subject="Mailgun route")
    response = hook_app.test_client().post(
        "/support/hooks/mail",
        data={"body-mime": raw.decode(), "sender": "lan@example.com"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 202, response.json
    assert session().get(InboundMail, response.json["id"]).envelope_sender == "lan@example.com"


@pytest.mark.parametrize("value", ["x" * 300 + "@example.com"])
def test_webhook_keeps_the_mail_of_an_overlong_sender_without_it(hook_app, value):
    # Refused (400), the mail was stored nowhere: nothing for an admin to find (issue 11),
    # and the provider's retries were refused the same way. Kept as the pipe keeps it.
    response = post(hook_app, make_mail(subject="Odd envelope"), query_string={"sender": value})
    assert response.status_code == 202, response.json
    assert "invalid sender, not kept" in response.json["warning"]
    row = session().get(InboundMail, response.json["id"])
    assert (row.subject, row.envelope_sender, row.status) == (
        "Odd envelope",
        None,
        InboundStatus.PROCESSED,
    )


def test_webhook_sender_with_a_nul_and_non_ascii_is_stored_clean(hook_app):
    response = post(hook_app, make_mail(), query_string={"sender": "jm\x00@bücher.example"})
    assert response.status_code == 202, response.json
    row = session().get(InboundMail, response.json["id"])
    assert row.envelope_sender == "jm@xn--bcher-kva.example"


def test_webhook_sender_of_a_nul_files_the_mail_by_its_from_not_as_a_bounce(hook_app):
    # "?sender=%00": a provider's or a relay script's empty C string (a "%s" of a NULL
    # sender pointer, URL-encoded). Read as the null sender, the customer's mail was
    # ignored as a bounce; it is no sender given, and the mail is filed by its From.
    response = post(hook_app, make_mail(subject="Printer offline"), query_string={"sender": "\x00"})
    assert response.status_code == 202, response.json
    row = session().get(InboundMail, response.json["id"])
    assert (row.status, row.envelope_sender) == (InboundStatus.PROCESSED, None), row.reason
    assert row.sender == "lan@example.com"
    assert session().get(Ticket, row.ticket_id).subject == "Printer offline"


def test_webhook_sender_of_a_unit_separator_files_the_mail_not_as_a_bounce(hook_app):
    # "?sender=%1F": a control character Python's str.strip() takes for white space; the
    # value was read as empty, the null sender, and the customer's mail ignored as a bounce.
    response = post(hook_app, make_mail(subject="Printer offline"), query_string={"sender": "\x1f"})
    assert response.status_code == 202, response.json
    row = session().get(InboundMail, response.json["id"])
    assert (row.status, row.envelope_sender) == (InboundStatus.PROCESSED, None), row.reason
    assert session().get(Ticket, row.ticket_id).subject == "Printer offline"


def test_admins_see_the_envelope_sender_on_the_mails_page(app, support, admin):
    bounce = ingest(FORWARDED_BOUNCE, envelope_sender="<>")
    plain = ingest(make_mail(subject="No envelope"))
    client = client_for(app, admin.member)
    page = client.get(f"{DESK}/inbound-mail/{bounce.id}").get_data(as_text=True)
    assert "Envelope sender" in page
    assert "&lt;&gt;" in page and "null sender" in page
    assert "not given" in client.get(f"{DESK}/inbound-mail/{plain.id}").get_data(as_text=True)
    person = ingest(make_mail(subject="With envelope"), envelope_sender="lan@example.com")
    page = client.get(f"{DESK}/inbound-mail/{person.id}").get_data(as_text=True)
    assert 'class="hd-envelope-sender" dir="ltr">lan@example.com<' in page


def test_receive_refuses_an_overlong_envelope_sender():
    with pytest.raises(intake.InvalidEnvelopeSender):
        intake.envelope_sender_of("y" * 255)
