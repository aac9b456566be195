"""Who really sent a mail: SPF/DKIM/DMARC verdicts stored with each inbound mail, on the desk.

Mails are signed here with test keys; DNS answers come from a dict the test serves through
``HELPDESK_MAIL_DNS_RESOLVER`` (nothing touches the network).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flask_helpdesk.config import DEFAULTS
from flask_helpdesk.config_checks import ConfigError, check_settings
from flask_helpdesk.mail.authenticity import authenticate, parse_authentication_results
from flask_helpdesk.models import InboundStatus
from tests.desk.conftest import DESK
from tests.mail.conftest import ingest, make_mail, ticket_of
from tests.mail.dkim_keys import WRONG_PUBLIC
from tests.mail.senders import FakeDns, key_record, signed

OURS = "mx.helpdesk-host.test"


def checked(raw: bytes):
    row = ingest(raw)
    assert row.status == InboundStatus.PROCESSED, row.reason
    return row


# -- our own DKIM check, stored with the mail -----------------------------------------------


def test_a_validly_signed_mail_is_verified_and_stored_with_the_mail(app, support, dns):
    row = checked(signed(make_mail()))
    assert (row.auth_spf, row.auth_dkim, row.auth_dmarc) == ("none", "pass", "pass")
    assert row.sender_verified is True
    assert "own:" in row.auth_reason
    assert ticket_of(row) is not None
    # The lookups went through the host's resolver, bounded by the configured timeout.
    assert ("s1._domainkey.example.com.", 5.0) in [(n, t) for n, t in dns.asked]


def test_a_body_changed_after_signing_fails(app, support, dns):
    raw = signed(make_mail(body="Please refund order 1.")).replace(b"order 1", b"order 9")
    row = checked(raw)
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("fail", "fail", False)
    assert "did not verify" in row.auth_reason and "reject" in row.auth_reason


def test_a_signature_checked_against_another_key_fails(app, support, dns):
    dns.records["s1._domainkey.example.com"] = key_record(WRONG_PUBLIC)
    row = checked(signed(make_mail()))
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("fail", "fail", False)


def test_a_valid_signature_of_another_domain_does_not_verify_the_from_domain(app, support, dns):
    dns.records["s1._domainkey.attacker.test"] = key_record()
    row = checked(signed(make_mail(sender="Lan <lan@example.com>"), domain="attacker.test"))
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("pass", "fail", False)
    assert "signed by attacker.test, not by example.com" in row.auth_reason


def test_without_a_dmarc_policy_a_mismatch_is_not_verified_rather_than_failed(app, support, dns):
    del dns.records["_dmarc.example.com"]
    dns.records["s1._domainkey.attacker.test"] = key_record()
    row = checked(signed(make_mail(), domain="attacker.test"))
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("pass", "none", False)
    plain = checked(make_mail(subject="Unsigned"))
    assert (plain.auth_dkim, plain.auth_dmarc, plain.sender_verified) == ("none", "none", False)


def test_a_subdomain_signature_aligns_with_the_parent_domain_policy(app, support, dns):
    dns.records["s1._domainkey.mail.example.com"] = key_record()
    row = checked(signed(make_mail(), domain="mail.example.com"))
    assert row.sender_verified is True


def test_a_dns_timeout_leaves_the_mail_unverified_and_still_posts_it(app, support, dns):
    dns.timeouts = {"s1._domainkey.example.com", "_dmarc.example.com"}
    row = checked(signed(make_mail()))
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("none", "none", False)
    assert "DNS timeout" in row.auth_reason and ticket_of(row) is not None


def test_mail_with_two_from_addresses_is_never_verified(app, support, dns):
    raw = signed(make_mail(sender="lan@example.com, boss@example.com"))
    assert authenticate(raw, txt=dns).verified is False


# -- Authentication-Results of the host's own receiving server ------------------------------


def with_headers(raw: bytes, *lines: str) -> bytes:
    return "".join(f"{line}\r\n" for line in lines).encode() + raw


def trust(app, authserv_id: str | None = OURS) -> None:
    """Configure the setting as a host would (checked and normalized like at start-up)."""
    config = app.extensions["helpdesk"].config
    config.update(check_settings({**config, "HELPDESK_MAIL_AUTHSERV_ID": authserv_id}, DEFAULTS))


def test_a_trusted_header_saying_dmarc_pass_verifies(app, support, dns):
    trust(app)
    raw = with_headers(
        make_mail(),
        f"Authentication-Results: {OURS}; spf=pass smtp.mailfrom=lan@example.com;"
        " dkim=pass (2048-bit key) header.d=example.com; dmarc=pass header.from=example.com",
        "Received: from client.example.com by mx.helpdesk-host.test",
    )
    row = checked(raw)
    assert (row.auth_spf, row.auth_dkim, row.auth_dmarc) == ("pass", "pass", "pass")
    assert row.sender_verified is True and row.auth_reason.startswith("server:")
    assert dns.asked == []  # the server's verdict is used: no lookups of our own


def test_a_trusted_header_saying_dmarc_fail_fails_even_with_a_valid_signature(app, support, dns):
    trust(app)
    raw = with_headers(
        signed(make_mail()),
        f"Authentication-Results: {OURS}; spf=fail smtp.mailfrom=lan@example.com;"
        " dkim=fail header.d=example.com; dmarc=fail (p=reject) header.from=example.com",
    )
    row = checked(raw)
    assert (row.auth_spf, row.auth_dkim, row.auth_dmarc) == ("fail", "fail", "fail")
    assert row.sender_verified is False


def test_a_forged_header_from_an_untrusted_server_is_ignored(app, support, dns):
    trust(app)
    raw = with_headers(
        make_mail(),
        "Authentication-Results: mx.attacker.test; dkim=pass header.d=example.com;"
        " dmarc=pass header.from=example.com",
    )
    row = checked(raw)
    # Our own check ran instead: unsigned mail from a p=reject domain.
    assert (row.auth_dmarc, row.sender_verified) == ("fail", False)
    assert row.auth_reason.startswith("own:")


def test_no_header_is_trusted_unless_the_host_names_its_server(app, support, dns):
    trust(app, None)
    raw = with_headers(
        make_mail(), f"Authentication-Results: {OURS}; dmarc=pass header.from=example.com"
    )
    assert checked(raw).sender_verified is False


def test_a_header_with_our_id_that_came_with_the_mail_is_ignored(app, support, dns):
    trust(app)
    raw = with_headers(
        make_mail(),
        f"Authentication-Results: {OURS}; spf=none smtp.mailfrom=lan@example.com",
        "Received: from attacker.test by mx.helpdesk-host.test",
        f"Authentication-Results: {OURS}; dkim=pass header.d=example.com;"
        " dmarc=pass header.from=example.com",
    )
    row = checked(raw)
    assert (row.auth_dkim, row.auth_dmarc, row.sender_verified) == ("none", "none", False)


def test_our_servers_topmost_result_wins_over_an_older_one_with_our_id(app, support, dns):
    trust(app)
    raw = with_headers(
        make_mail(),
        f"Authentication-Results: {OURS}; dmarc=fail header.from=example.com",
        f"Authentication-Results: {OURS}; dmarc=pass header.from=example.com",
    )
    assert checked(raw).auth_dmarc == "fail"


def test_aligned_results_verify_when_the_server_does_not_evaluate_dmarc(app, support, dns):
    trust(app, f"other.test, {OURS}")
    raw = with_headers(
        make_mail(),
        f"Authentication-Results: {OURS.upper()}; spf=pass smtp.mailfrom=bounce@mail.example.com",
    )
    row = checked(raw)
    assert (row.auth_spf, row.auth_dmarc, row.sender_verified) == ("pass", "pass", True)


@pytest.mark.parametrize(
    "key, value",
    [
        ("HELPDESK_MAIL_AUTHSERV_ID", 42),
        ("HELPDESK_MAIL_DNS_RESOLVER", "8.8.8.8"),
        ("HELPDESK_MAIL_DNS_TIMEOUT", 0),
    ],
)
def test_a_wrong_setting_is_refused_at_start(app, key, value):
    with pytest.raises(ConfigError, match=key):
        check_settings({**app.extensions["helpdesk"].config, key: value}, DEFAULTS)


def test_header_values_with_comments_and_quotes_parse():
    server, results = parse_authentication_results(
        'mx.example.org (Postfix; "x") 1;\r\n dkim=pass (1024-bit key; unprotected)'
        ' header.d=Example.COM header.s=s1 reason="ok; fine"; none'
    )
    assert server == "mx.example.org"
    assert [(r.method, r.result, r.props.get("header.d")) for r in results] == [
        ("dkim", "pass", "example.com")
    ]


@given(st.text(max_size=300))
def test_any_header_value_parses_without_error(value):
    server, results = parse_authentication_results(value)
    assert isinstance(server, str) and isinstance(results, list)


@given(st.binary(max_size=400))
def test_any_bytes_give_a_verdict_without_error(raw):
    verdict = authenticate(raw, authserv_ids=[OURS], txt=FakeDns())
    assert verdict.state in ("verified", "unverified", "failed")


# -- the desk -------------------------------------------------------------------------------


def test_agents_see_a_badge_on_each_mailed_message(app, support, dns, agent):
    # Posted although it fails: with the default policy it would be held instead
    # (tests/mail/test_sender_policy.py); the badge shows whatever the policy.
    app.extensions["helpdesk"].config["HELPDESK_MAIL_SENDER_POLICY"] = "off"
    first = checked(signed(make_mail(subject="Refund")))
    code = ticket_of(first).code
    spoof = checked(
        make_mail(subject=f"Re: [{code}] Refund", body="Send it to my new IBAN", headers=None)
    )
    assert spoof.ticket_id == first.ticket_id
    page = app.test_client(user=agent.member).get(f"{DESK}/tickets/{code}").get_data(as_text=True)
    assert page.count('data-sender="verified"') == 1
    assert page.count('data-sender="failed"') == 1
    assert "Sender verification failed" in page and "SPF: none, DKIM: none, DMARC: fail" in page
    assert "possible spoofing" in page
    client = app.test_client(user=agent.member)
    fa = client.get(f"{DESK}/tickets/{code}?lang=fa").get_data(as_text=True)
    assert "فرستنده تأیید شد" in fa and "Sender verified" not in fa


# -- DNS: before the transaction, cached ------------------------------------------------------


def _slow_resolver(app, dns) -> list[tuple[bool, int]]:
    """Makes *dns* the app's resolver, writing every inbound row from another connection
    (lock timeout 200 ms) at each lookup; what it saw, each time: (whether the session had a
    transaction open, how many rows the other connection changed)."""
    from sqlalchemy import text, update

    from flask_helpdesk.models import InboundMail
    from flask_helpdesk.services.base import session

    engine = app.extensions["helpdesk"].engine
    seen: list[tuple[bool, int]] = []
    answer = dns.__call__

    def slow(name: str, timeout: float):
        with engine.connect() as other:  # another process's connection
            if other.dialect.name == "sqlite":
                other.execute(text("PRAGMA busy_timeout = 200"))
            else:
                other.execute(text("SET lock_timeout = '200ms'"))
            changed = other.execute(
                update(InboundMail).values(subject="touched while DNS answered")
            ).rowcount
            other.commit()
        seen.append((session()().in_transaction(), changed))
        return answer(name, timeout)

    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_RESOLVER"] = slow
    return seen


def test_a_slow_resolver_holds_no_database_transaction(app, support, dns):
    """While DNS answers, another process can write the very row being processed: intake
    has no transaction (no lock, no snapshot) open during the lookups."""
    seen = _slow_resolver(app, dns)
    row = checked(signed(make_mail(subject="Slow DNS")))
    assert seen and all(not busy and changed == 1 for busy, changed in seen), seen
    assert row.sender_verified is True


def _stored_only(raw: bytes, monkeypatch) -> int:
    """Store *raw* and leave its processing to the test, as a worker takes it (by its id)."""
    from flask_helpdesk import jobs
    from flask_helpdesk.services import intake
    from flask_helpdesk.services.base import session

    with monkeypatch.context() as stored_only:
        stored_only.setattr(jobs, "enqueue", lambda *args, **kwargs: None)
        inbound_id = intake.receive(raw, "pipe").inbound.id
    session().commit()  # the id's read: a worker starts with no transaction of its own
    return inbound_id


def _processed(inbound_id: int):
    from flask_helpdesk.models import InboundMail
    from flask_helpdesk.services import intake
    from flask_helpdesk.services.base import session

    intake.process(inbound_id)
    session().expire_all()
    return session().get(InboundMail, inbound_id)


def test_a_workers_dns_lookups_hold_no_transaction_and_its_cached_check_holds_no_lookup(
    app, support, dns, monkeypatch
):
    """A mail processed by its id (RQ): a sender domain the process has not looked up yet is
    looked up with no transaction open; once its answers are cached, the check while the row
    is claimed (PostgreSQL: the claim reads the raw mail, see below) asks no DNS at all, and
    the verdict is the same."""
    seen = _slow_resolver(app, dns)
    first = _processed(_stored_only(signed(make_mail(subject="One")), monkeypatch))
    assert seen and all(not busy and changed >= 1 for busy, changed in seen), seen
    assert first.status == InboundStatus.PROCESSED and first.sender_verified is True
    asked = len(seen)
    second = _processed(_stored_only(signed(make_mail(subject="Two")), monkeypatch))
    assert len(seen) == asked  # answered by the cache
    assert second.status == InboundStatus.PROCESSED, second.reason
    assert (second.auth_spf, second.auth_dkim, second.auth_dmarc, second.sender_verified) == (
        first.auth_spf,
        first.auth_dkim,
        first.auth_dmarc,
        True,
    )
    # An expired answer is looked up again, outside the transaction.
    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_CACHE_SECONDS"] = 0
    third = _processed(_stored_only(signed(make_mail(subject="Three")), monkeypatch))
    assert len(seen) == 2 * asked and not any(busy for busy, _changed in seen), seen
    assert third.sender_verified is True


def _processed_watched(app, inbound_id: int):
    """:func:`_processed`, and what it sent: its statements, the raw bytes' reads among them,
    its COMMITs."""
    from sqlalchemy import event

    engine = app.extensions["helpdesk"].engine
    statements: list[str] = []
    commits: list[bool] = []

    def statement(conn, cursor, sql, parameters, context, executemany):
        statements.append(sql)

    def commit(conn):
        commits.append(True)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    try:
        row = _processed(inbound_id)
    finally:
        event.remove(engine, "before_cursor_execute", statement)
        event.remove(engine, "commit", commit)
    assert row.status == InboundStatus.PROCESSED and row.sender_verified is True
    reads = [s for s in statements if "helpdesk_inbound_mail.raw" in s.split(" FROM ")[0]]
    return statements, reads, commits


def test_a_workers_claim_reads_the_raw_mail_on_postgresql(app, support, dns, monkeypatch):
    """On PostgreSQL a fresh mail's claim (``SELECT … FOR NO KEY UPDATE``) reads its raw bytes
    too: no read of them before it (a statement and a connection's checkout a mail), when the
    sender check's DNS answers are cached. Elsewhere the raw bytes are read before the claim,
    as before. A mail the claim does not find fresh is not processed twice."""
    from flask_helpdesk.models import InboundMail
    from flask_helpdesk.services import intake
    from flask_helpdesk.services.base import session

    _processed(_stored_only(signed(make_mail(subject="Warm-up")), monkeypatch))  # DNS cached
    inbound_id = _stored_only(signed(make_mail(subject="Counted")), monkeypatch)
    statements, reads, _commits = _processed_watched(app, inbound_id)
    postgresql = session().get_bind(InboundMail).dialect.name == "postgresql"
    assert len(reads) == 1, reads
    assert ("FOR NO KEY UPDATE" in reads[0]) is postgresql, reads
    assert statements.index(reads[0]) == 0
    assert intake.process(inbound_id) is None  # done: not claimed again


def test_with_the_dns_cache_off_a_workers_mail_is_read_and_claimed_once(
    app, support, dns, monkeypatch
):
    """``HELPDESK_MAIL_DNS_CACHE_SECONDS = 0``: the sender check always needs DNS, so the
    claim does not read the raw bytes (PostgreSQL) only to end its transaction and read them
    again: one read of them, before the claim, one claim, no COMMIT of a lock-only
    transaction, as before the claim read them."""
    from flask_helpdesk.services import intake

    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_CACHE_SECONDS"] = 0
    inbound_id = _stored_only(signed(make_mail(subject="Uncached")), monkeypatch)
    statements, reads, commits = _processed_watched(app, inbound_id)
    assert len(reads) == 1 and "FOR " not in reads[0], reads
    claims = [s for s in statements if "FOR NO KEY UPDATE" in s or "SET status" in s]
    assert len(claims) == 1 and len(commits) == 1, (claims, len(commits))
    assert intake.process(inbound_id) is None  # done: not claimed again


def test_two_workers_taking_one_mail_at_once_process_it_once(app, support, dns, monkeypatch):
    """Two workers given the same mail's id at once (a list pushed twice, the sweep): with
    the sender's answers cached, the first claims it with its raw bytes and holds it while
    it works; the second's claim waits, then finds it taken and goes no further (PostgreSQL:
    it goes the older way, which finds the mail done). One ticket, one try counted."""
    import threading

    from sqlalchemy import select

    from flask_helpdesk.models import InboundMail, Ticket
    from flask_helpdesk.services import intake
    from flask_helpdesk.services.base import session

    _processed(_stored_only(signed(make_mail(subject="Warm-up")), monkeypatch))  # DNS cached
    monkeypatch.setenv(intake.TESTING_HOOKS_ENV, "1")
    slow = signed(make_mail(subject="Twice", headers={"X-Helpdesk-Test-Sleep": "0.6"}))
    inbound_id = _stored_only(slow, monkeypatch)
    results: dict[str, object] = {}

    def worker(name: str) -> None:
        with app.app_context():
            try:
                row = intake.process(inbound_id)
                results[name] = None if row is None else row.id
            except Exception as error:  # reported by the assertion below
                results[name] = error
            finally:
                session().remove()

    first = threading.Thread(target=worker, args=("first",))
    first.start()
    threading.Event().wait(0.2)  # the first holds the mail, pausing in its processing
    second = threading.Thread(target=worker, args=("second",))
    second.start()
    first.join(10)
    second.join(10)
    assert results == {"first": inbound_id, "second": None}, results
    session().expire_all()
    row = session().get(InboundMail, inbound_id)
    assert row.status == InboundStatus.PROCESSED and row.attempts == 1, row.reason
    assert row.sender_verified is True
    assert len(session().scalars(select(Ticket).where(Ticket.subject == "Twice")).all()) == 1


def test_dns_answers_are_cached_per_process_for_the_configured_time(app, support, dns):
    checked(signed(make_mail(subject="One")))
    asked = len(dns.asked)
    checked(signed(make_mail(subject="Two")))
    assert len(dns.asked) == asked  # the key came from the cache
    app.extensions["helpdesk"].config["HELPDESK_MAIL_DNS_CACHE_SECONDS"] = 0
    checked(signed(make_mail(subject="Three")))
    assert len(dns.asked) == 2 * asked


def test_a_timeout_is_not_cached(app, support, dns):
    dns.timeouts = {"s1._domainkey.example.com"}
    assert checked(signed(make_mail(subject="One"))).sender_verified is False
    dns.timeouts = set()
    assert checked(signed(make_mail(subject="Two"))).sender_verified is True


def test_the_cache_is_bounded_and_expires():
    from flask_helpdesk.mail.authenticity import CachedTxt

    answers = FakeDns({f"n{i}.test": str(i) for i in range(10)})
    cache = CachedTxt(answers, ttl=60, max_entries=3)
    for i in range(10):
        cache(f"n{i}.test", 1)
    assert len(cache._answers) == 3 and cache("n9.test", 1) == b"9"
    assert len(answers.asked) == 10
    cache("n0.test", 1)  # evicted: asked again
    assert len(answers.asked) == 11
    expired = CachedTxt(answers, ttl=-1)
    expired("n1.test", 1)
    expired("n1.test", 1)
    assert len(answers.asked) == 13
