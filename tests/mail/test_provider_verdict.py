"""A provider's own SPF verdict as a source (issue 18): taken from a Mailgun post only when its
signature verifies with the host's signing key; an unsigned, badly signed or stale post's
fields are ignored (the mail itself is still taken). DNS from the test resolver."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from sqlalchemy import select

from flask_helpdesk.models import InboundMail, InboundStatus
from flask_helpdesk.services.base import session
from tests.mail.conftest import make_mail

TOKEN = "hook-secret"
SIGNING_KEY = "key-test-signing"


@pytest.fixture
def hook_app(app, support, dns):
    config = app.extensions["helpdesk"].config
    config["HELPDESK_INBOUND_MAIL_TOKEN"] = TOKEN
    config["HELPDESK_MAILGUN_SIGNING_KEY"] = SIGNING_KEY
    return app


def signature(timestamp: str, token: str, key: str = SIGNING_KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def post(app, raw: bytes, signed: str | None = "good", spf: str = "Pass", parsed: bool = False):
    timestamp = str(int(time.time()) - (3600 if signed == "stale" else 0))
    token = "t" * 50
    data = {"sender": "lan@example.com"}
    if parsed:
        headers = [["X-Mailgun-Spf", spf], ["X-Mailgun-Dkim-Check-Result", "Fail"]]
        data["message-headers"] = json.dumps(headers)
        data["body-mime"] = raw.decode()
    else:
        data["body-mime"] = (
            f"X-Mailgun-Spf: {spf}\r\nReceived: from mail.example.com ([192.0.2.10])"
            " by mxa.mailgun.test\r\n"
        ) + raw.decode()
    if signed is not None:
        key = "another-key" if signed == "wrong" else SIGNING_KEY
        data.update(timestamp=timestamp, token=token, signature=signature(timestamp, token, key))
    response = app.test_client().post(
        "/support/hooks/mail", data=data, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    session().expire_all()
    row = session().get(InboundMail, response.json["id"])
    assert row.status == InboundStatus.PROCESSED, row.reason
    return row


def test_a_signed_posts_spf_pass_verifies_an_unsigned_mail(hook_app):
    row = post(hook_app, make_mail(subject="Via Mailgun"))
    assert row.provider_verdict == "mailgun; spf=pass"
    assert (row.auth_spf, row.auth_dkim, row.auth_dmarc, row.sender_verified) == (
        "pass",
        "none",
        "pass",
        True,
    )
    assert "mailgun: spf=pass for example.com" in row.auth_reason


def test_the_parsed_posts_header_list_is_read_too(hook_app):
    row = post(hook_app, make_mail(subject="Parsed"), parsed=True, spf="SoftFail")
    assert row.provider_verdict == "mailgun; spf=softfail; dkim=fail"
    # softfail counts as a fail; example.com publishes p=reject: possible spoofing.
    assert (row.auth_spf, row.auth_dmarc, row.sender_verified) == ("fail", "fail", False)


@pytest.mark.parametrize("signed", [None, "wrong", "stale"], ids=["unsigned", "bad", "stale"])
def test_an_unsigned_or_badly_signed_posts_fields_are_ignored(hook_app, signed):
    row = post(hook_app, make_mail(subject=f"Post {signed}"), signed=signed)
    assert row.provider_verdict is None
    # Our own check decides: no signature, p=reject, no SPF of ours configured.
    assert (row.auth_spf, row.auth_dmarc, row.sender_verified) == ("none", "fail", False)


def test_without_a_signing_key_nothing_is_trusted(hook_app):
    hook_app.extensions["helpdesk"].config["HELPDESK_MAILGUN_SIGNING_KEY"] = None
    row = post(hook_app, make_mail(subject="No key"))
    assert row.provider_verdict is None and row.sender_verified is False


def test_a_verdict_written_into_the_mail_below_the_providers_received_is_ignored(hook_app):
    raw = b"X-Mailgun-Spf: Pass\r\n" + make_mail(subject="Forged header")
    timestamp, token = str(int(time.time())), "u" * 50
    data = {
        "sender": "lan@example.com",
        # Mailgun wrote no verdict; the only one is the sender's own, below Mailgun's Received.
        "body-mime": "Received: from x ([192.0.2.1]) by mxa.mailgun.test\r\n" + raw.decode(),
        "timestamp": timestamp,
        "token": token,
        "signature": signature(timestamp, token),
    }
    response = hook_app.test_client().post(
        "/support/hooks/mail", data=data, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 202
    row = session().scalar(select(InboundMail).where(InboundMail.id == response.json["id"]))
    assert row.provider_verdict is None
