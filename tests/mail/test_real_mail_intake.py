"""Mail other help desks file as tickets becomes a ticket here too (see ``real_mails.py`` for
where each shape comes from). Runs on SQLite and, with HELPDESK_TEST_DATABASE_URL, PostgreSQL.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from flask_helpdesk.models import Contact, InboundStatus, Message
from flask_helpdesk.services.base import session
from tests.conftest import client_for
from tests.desk.conftest import DESK
from tests.mail import real_mails as mails
from tests.mail.conftest import ingest, ticket_of

FILED = [
    # (mail, requester's address, requester's name, ticket subject)
    pytest.param(
        mails.NO_FROM_REPLY_TO,
        "minh.tran@example.org",
        "Minh Tran",
        "Order 1042 never arrived",
        id="no-from-reply-to",
    ),
    pytest.param(
        mails.NO_FROM_SENDER_ONLY,
        "gateway@ops.example.org",
        "Ops Gateway",
        "Nightly import finished with warnings",
        id="no-from-sender",
    ),
    pytest.param(
        mails.CRON_RETURN_PATH,
        "root@localhost",
        "",
        "Cron <root@backup1> /usr/local/bin/backup.sh",
        id="no-from-return-path-localhost",
    ),
    pytest.param(
        mails.MBOX_ENVELOPE_ONLY,
        "nagios@monitor.intranet",
        "",
        "PROBLEM: disk /var on db2 is 97% full",
        id="mbox-envelope-sender",
    ),
    pytest.param(
        mails.BROKEN_CONTINUATION,
        "accounting@client.example.org",
        "Accounting",
        "Invoice 2024-118 shows the wrong VAT number and the wrong company address since "
        "the March update",
        id="unindented-continuation",
    ),
    pytest.param(
        mails.MBOX_AND_OBSOLETE_SYNTAX,
        "lan@example.com",
        "Lan Nguyen",
        "Password reset link expired",
        id="mbox-lines-and-space-before-colon",
    ),
    pytest.param(
        mails.GARBAGE_FIRST_LINE,
        "lan@example.com",
        "Lan Nguyen",
        "Cannot change my e-mail address",
        id="junk-before-headers",
    ),
    pytest.param(
        mails.INTRANET_SENDER,
        "scanner@intranet",
        "Scanner 3rd floor",
        "Scanned document",
        id="intranet-address",
    ),
    pytest.param(
        mails.QUOTED_LOCAL_PART,
        '"john smith"@legacy.example.com',
        "",
        "Access to the portal",
        id="quoted-local-part",
    ),
    pytest.param(mails.GBK_OUTLOOK, "zhang@example.cn", "张三丰", "无法登录系统，请帮忙", id="gbk"),
    pytest.param(mails.BIG5_OUTLOOK_EXPRESS, "chan@example.tw", "陳大文", "帳戶被鎖定", id="big5"),
    pytest.param(mails.SJIS_CGI, "yamada@example.jp", "山田太郎", "ログインできません", id="sjis"),
    pytest.param(
        mails.KOI8R_THE_BAT,
        "ivan@example.ru",
        "Иван Петров",
        "Не могу войти в личный кабинет",
        id="koi8-r",
    ),
    pytest.param(
        mails.LATIN1_EUDORA,
        "renee@example.fr",
        "Renée Lefèvre",
        "Problème de facturation",
        id="latin-1",
    ),
    pytest.param(
        mails.GBK_UNDECLARED, "lisi@example.cn", "李四", "订单没有收到", id="gbk-undeclared"
    ),
    pytest.param(
        mails.GB2312_LABEL_GBK_TEXT,
        "wangzhe@example.cn",
        "王喆",
        "发票抬头错误（王喆）",
        id="gb2312-label-gbk-text",
    ),
    pytest.param(
        mails.BROKEN_ENCODED_WORDS,
        "lan.ngo@example.vn",
        "Ngô Thị Lan",
        "Café không mở được nhập",
        id="broken-encoded-words",
    ),
]


@pytest.mark.parametrize(("raw", "address", "name", "subject"), FILED)
def test_odd_real_mail_becomes_a_ticket(app, support, raw, address, name, subject):
    row = ingest(raw)
    assert row.status == InboundStatus.PROCESSED, row.reason
    ticket = ticket_of(row)
    assert ticket.subject == subject
    assert ticket.requester.email == address
    assert ticket.requester.name == name
    assert ticket.email == address  # replies go back to the address the mail came from
    # The admin's list shows what the ticket shows, whatever the encoding.
    assert row.sender == address.lower()
    assert row.subject == subject


def test_admin_list_shows_the_decoded_subject_of_the_ticket(app, support, admin):
    from flask_helpdesk.services import intake

    waiting = intake.receive(mails.GB2312_LABEL_GBK_TEXT, "pipe").inbound
    processed = ingest(mails.KOI8R_THE_BAT)
    page = client_for(app, admin.member).get(f"{DESK}/inbound-mail/").get_data(as_text=True)
    assert "发票抬头错误（王喆）" in page  # was "=?GB2312?B?…?=" before
    assert "wangzhe@example.cn" in page
    assert "Не могу войти в личный кабинет" in page
    assert "\ufffd" not in page
    assert waiting.subject == "发票抬头错误（王喆）"
    assert processed.subject == ticket_of(processed).subject
    detail = client_for(app, admin.member).get(f"{DESK}/inbound-mail/{waiting.id}")
    assert "From: 王喆 &lt;wangzhe@example.cn&gt;" in detail.get_data(as_text=True)


def test_the_subject_stored_on_arrival_is_decoded_like_the_tickets():
    """What intake stores before parsing (shown while a mail waits or after it failed)."""
    from flask_helpdesk.mail.parsing import parse_message
    from flask_helpdesk.mail.peek import peek_headers

    for raw in (mails.GB2312_LABEL_GBK_TEXT, mails.GBK_OUTLOOK, mails.BIG5_OUTLOOK_EXPRESS):
        peeked, parsed = peek_headers(raw), parse_message(raw)
        assert (peeked.subject, peeked.sender) == (parsed.subject, parsed.from_address)


def test_unicode_and_punycode_spellings_of_an_idn_address_are_one_customer(app, support):
    first = ingest(mails.IDN_UNICODE)
    second = ingest(mails.IDN_PUNYCODE)
    assert first.status == second.status == InboundStatus.PROCESSED
    contacts = list(session().scalars(select(Contact).where(Contact.email.like("jm@%"))))
    assert [c.email for c in contacts] == ["jm@xn--bcher-kva.example"]
    assert ticket_of(first).requester.name == "Jürgen Müller"
    assert ticket_of(second).requester_id == ticket_of(first).requester_id


def test_a_bounce_without_from_is_ignored_as_noise_not_failed(app, support):
    row = ingest(mails.POSTFIX_BOUNCE_NO_FROM)
    assert row.status == InboundStatus.IGNORED
    assert row.reason == "noise: bounce"
    assert row.subject == "Undelivered Mail Returned to Sender"


def test_mail_without_any_address_fails_with_the_reason_and_nothing_is_lost(app, support):
    row = ingest(mails.NO_ADDRESS_AT_ALL)
    assert row.status == InboundStatus.FAILED
    assert row.reason == "the mail has no sender address"
    assert row.subject == "SMS from +84901234567"
    assert row.raw == mails.NO_ADDRESS_AT_ALL
    assert row.ticket_id is None


def test_a_raw_gbk_file_name_is_kept_readable(app, support):
    row = ingest(mails.GBK_ATTACHMENT_NAME)
    assert row.status == InboundStatus.PROCESSED, row.reason
    message = session().get(Message, row.posted_message_id)
    assert [a.filename for a in message.attachments] == ["季度报告.pdf"]
    assert "请看附件。" in message.body


def test_inline_images_are_kept_with_their_content_ids(app, support):
    row = ingest(mails.OUTLOOK_INLINE_IMAGES)
    assert row.status == InboundStatus.PROCESSED, row.reason
    message = session().scalar(select(Message).where(Message.id == row.posted_message_id))
    by_id = {a.id: a for a in message.attachments}
    inline = message.data["inline_images"]
    assert set(inline) == {
        "image001.png@01DA7B5C.5E6F7A80",
        "C7A1F2E4-1B2C-4D5E-9F00-ABCDEF123456@home",
    }
    # Two images named "image.png": each Content-ID points at its own file.
    first = by_id[inline["image001.png@01DA7B5C.5E6F7A80"]]
    second = by_id[inline["C7A1F2E4-1B2C-4D5E-9F00-ABCDEF123456@home"]]
    assert (first.filename, second.filename) == ("image001.png", "image.png")
    assert first.size == len(mails.PNG)
    assert second.size == len(mails.PNG) + len(b"second")


def test_inline_images_show_in_the_ticket_through_the_safe_download(app, support, agent, customer):
    row = ingest(mails.OUTLOOK_INLINE_IMAGES)
    ticket = ticket_of(row)
    ticket.requester.user_id = customer.get_id()  # Lan signs in to the portal as well
    session().commit()
    for member, prefix in ((agent.member, f"{DESK}/tickets"), (customer, "/support/tickets")):
        client = client_for(app, member)
        response = client.get(f"{prefix}/{ticket.code}")
        assert response.status_code == 200, (prefix, response.status_code)
        page = response.get_data(as_text=True)
        sources = re.findall(r'<img[^>]*src="([^"]+)"', page)
        assert len(sources) == 2, sources  # the unknown cid:missing@nowhere is dropped
        assert all(src.startswith(f"{prefix}/{ticket.code}/files/") for src in sources)
        assert "cid:" not in page
        image = client.get(sources[0])
        assert image.status_code == 200
        assert image.data == mails.PNG
        assert image.mimetype == "image/png"
        assert image.headers["X-Content-Type-Options"] == "nosniff"


def test_a_mail_cannot_smuggle_a_relative_image_url_past_the_sanitizer(app, support, agent):
    """Only the URLs made from Content-IDs pass: a mail naming another file's URL does not."""
    html = '<p>x</p><img src="/support/desk/tickets/HD-AAAAAA/files/1/a.png">'
    from tests.mail.conftest import make_mail

    row = ingest(make_mail(html=html))
    page = client_for(app, agent.member).get(f"{DESK}/tickets/{ticket_of(row).code}")
    assert "HD-AAAAAA" not in page.get_data(as_text=True)
