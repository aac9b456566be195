"""Inbound mail parsing, checked on a corpus of realistic messages (tests/mail/corpus).

Each test states what a ticket would show for a mail: the new text of a reply, the files it
lists, why an automatic mail is ignored, that displayed HTML cannot run script or call out.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from flask_helpdesk.mail.parsing import (
    MailParseError,
    NoiseReason,
    ParsedMail,
    detect_noise,
    extract_ticket_code,
    html_to_text,
    parse_message,
    sanitize_mail_html,
    strip_quotes,
)

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(path.name for path in CORPUS.glob("*.eml"))


def load(name: str, **options: bool) -> ParsedMail:
    return parse_message((CORPUS / name).read_bytes(), **options)


# What a ticket shows for every corpus mail: the start and end of its new text (None: the
# new text must be exactly the given string), and its noise verdict.
EXPECTED: dict[str, tuple[str, str | None, NoiseReason | None]] = {
    "apple_mail_flowed.eml": (
        "Yes, the order number is 55120.",
        "the parcel is with my neighbour at number 12.",
        None,
    ),
    "bottom_posted.eml": (
        "I use version 3.4.1 on Linux. The export button stays\ngrey.\n\nTom",
        None,
        None,
    ),
    "dsn_bounce.eml": ("This is the mail system at host mx.example.com.", "User unknown", "bounce"),
    "forward_as_attachment.eml": ("Please handle the customer's mail attached below.", None, None),
    "forward_inline_gmail.eml": (
        "FYI, this customer cannot pay.",
        "my card is declined at checkout although it works elsewhere.",
        None,
    ),
    "gmail_reply.eml": (
        "Thanks, resetting the password worked.\nI can log in again now.",
        None,
        None,
    ),
    "html_only_gmail_reply.eml": ("Yes, please cancel it at the end of the month.", None, None),
    "html_only_newsletter.eml": ("Spring sale: 30 % off everything", "- Chargers", "bulk"),
    "html_with_script.eml": ("Please help, I cannot reach my account.", "styled", None),
    "inline_and_remote_images.eml": ("When I export the report I get this error:", "Lena", None),
    "interleaved_reply.eml": ("> Which operating system?", "Yes, up to about 100 rows.", None),
    "japanese_iso2022jp.eml": ("お世話になっております。", "山田花子", None),
    "mailing_list.eml": (
        "Does anyone have a robust way to parse odd Date headers?",
        None,
        "mailing-list",
    ),
    "malformed_headers.eml": (
        "The header lines above are broken but this text must still arrive.",
        None,
        None,
    ),
    "missing_boundary.eml": ("What is the status of order 4411?", None, None),
    "missing_message_id.eml": ("The data disk on server 3 is 93% full.", None, None),
    "nested_multipart.eml": (
        "The app crashes right after the splash screen. Logs attached.",
        None,
        None,
    ),
    "out_of_office.eml": (
        "I am out of the office until 18 March",
        "access to email.",
        "auto-reply",
    ),
    "outlook_forward.eml": (
        "Forwarding this one to you.",
        "The licence key LK-2231 is rejected as invalid.",
        None,
    ),
    "outlook_original_message.eml": (
        "It still drops. The log is below my old message, line 42.\n\nPeter",
        None,
        None,
    ),
    "outlook_reply_cp1252.eml": (
        "Hi team,\n\nHere\u2019s the invoice total you asked for: 120 \u20ac incl. VAT.",
        "Best regards\nGr\u00e9goire Lef\u00e8vre",
        None,
    ),
    "pdf_rfc2231_filename.eml": (
        "Please find the invoice and the price list attached.",
        None,
        None,
    ),
    "persian_qp.eml": ("سلام،", "با تشکر\nمریم احمدی", None),
    "precedence_bulk.eml": ("You used 1,204 API calls in February.", None, "bulk"),
    "read_receipt.eml": ("Your message was read on 9 March 2024.", None, "read-receipt"),
    "russian_koi8r.eml": ("Добрый день!", "С уважением,\nИван Петров", None),
    "signature.eml": (
        "Hi,\n\ncould you add a second seat to our licence? Same billing as before.",
        None,
        None,
    ),
    "text_only_mbox_line.eml": ("Hello,\n\nI was charged twice", "Thanks,\nAhmed", None),
    "unknown_charset.eml": (
        "Bonjour,\n\nJe n\u2019arrive plus à me connecter depuis hier.",
        "Renée",
        None,
    ),
    "very_long_line.eml": (
        "Here is the log in one line: word0 word1",
        "word39999 END-OF-LOG",
        None,
    ),
    "vietnamese_base64.eml": (
        "Chào anh chị,\n\nTôi đã thử lại nhưng vẫn không thanh toán được bằng thẻ Visa.",
        "Cảm ơn,\nNguyễn Thị Hương",
        None,
    ),
    "vietnamese_outlook_reply.eml": ("Tôi đã nhận được hóa đơn, cảm ơn.", None, None),
    "wrong_charset_declared_latin1.eml": (
        "Guten Tag,\n\ndie Jacke kam in der falschen Größe (M statt XL).",
        "Jörg Müller",
        None,
    ),
    "x_autoreply.eml": (
        "Thank you for your message. We will answer within 48 hours.",
        None,
        "auto-reply",
    ),
}


# --------------------------------------------------------------------------- whole corpus


def test_every_corpus_mail_has_expectations() -> None:
    assert len(CORPUS_FILES) >= 25
    assert set(CORPUS_FILES) == set(EXPECTED)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_new_text_and_noise_verdict(name: str) -> None:
    parsed = load(name)
    start, end, noise = EXPECTED[name]
    if end is None:
        assert parsed.new_text == start
    else:
        assert parsed.new_text.startswith(start)
        assert parsed.new_text.endswith(end)
    assert detect_noise(parsed) == noise


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_parsed_strings_are_storable_and_html_is_inert(name: str) -> None:
    parsed = load(name)
    strings = [parsed.subject, parsed.text, parsed.new_text, parsed.html or ""]
    strings += [parsed.from_name or "", parsed.from_address or ""]
    strings += [value for _, value in parsed.headers]
    strings += [attachment.filename for attachment in parsed.attachments]
    for value in strings:
        assert "\x00" not in value
        value.encode("utf-8")  # raises on lone surrogates, which databases reject
    assert "\ufffd" not in parsed.text  # every corpus body decodes without replacement
    if parsed.html:
        lowered = parsed.html.lower()
        for needle in ("<script", "onerror", "onload", "javascript:", "<iframe", "<object"):
            assert needle not in lowered
        assert not re.search(r"<img[^>]+src=\"(?!cid:|data:image/)", lowered)
    if parsed.message_id:
        assert "<" not in parsed.message_id and ">" not in parsed.message_id
    assert parsed.date is None or parsed.date.tzinfo is not None


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_truncated_mail_never_raises_anything_but_mail_parse_error(name: str) -> None:
    raw = (CORPUS / name).read_bytes()
    for cut in (1, 7, len(raw) // 5, len(raw) // 2, len(raw) - 3):
        try:
            parsed = parse_message(raw[:cut])
        except MailParseError:
            continue
        assert isinstance(parsed.text, str)


# --------------------------------------------------------------------------- threading


def test_gmail_reply_threading_headers() -> None:
    parsed = load("gmail_reply.eml")
    assert parsed.message_id == "CAF3xq7Q0Zk1r9+demo-Xy2@mail.gmail.example"
    assert parsed.in_reply_to == "HD-4F7K2Q.2@desk.example.com"
    assert parsed.references == ["HD-4F7K2Q.1@desk.example.com", "HD-4F7K2Q.2@desk.example.com"]
    assert parsed.thread_ids == ["HD-4F7K2Q.2@desk.example.com", "HD-4F7K2Q.1@desk.example.com"]
    assert extract_ticket_code(parsed.subject) == "HD-4F7K2Q"
    assert parsed.from_address == "minh.tran.demo@gmail.example"
    assert parsed.from_name == "Minh Tran"
    assert parsed.to == [("Example Support", "support@example.com")]
    assert parsed.date == datetime(2024, 3, 5, 2, 41, 7, tzinfo=UTC)
    # The full text keeps the history the new text hides.
    assert "We have sent you a password reset link." in parsed.full_text
    assert "password reset link" not in parsed.new_text


def test_message_id_domain_is_lowercased_and_folded_references_are_read() -> None:
    outlook = load("outlook_reply_cp1252.eml")
    assert outlook.message_id == (
        "AM0PR07MB1234ABCD5678EF90@am0pr07mb1234.eurprd07.prod.outlook.example"
    )
    vietnamese = load("vietnamese_base64.eml")
    assert vietnamese.references == [
        "HD-Q8W4ZE.1@desk.example.com",
        "HD-Q8W4ZE.2@desk.example.com",
    ]


def test_missing_message_id_gets_a_stable_idempotency_key() -> None:
    raw = (CORPUS / "missing_message_id.eml").read_bytes()
    first, again = parse_message(raw), parse_message(raw)
    other = parse_message(raw.replace(b"93%", b"94%"))
    assert first.message_id is None
    assert first.idempotency_key.startswith("sha256:")
    assert first.idempotency_key == again.idempotency_key
    assert first.idempotency_key != other.idempotency_key
    assert load("gmail_reply.eml").idempotency_key == "CAF3xq7Q0Zk1r9+demo-Xy2@mail.gmail.example"


# --------------------------------------------------------------------------- charsets, names


def test_encoded_names_and_subjects_in_many_charsets() -> None:
    vietnamese = load("vietnamese_base64.eml")
    assert vietnamese.subject == "Re: [HD-Q8W4ZE] Không thanh toán được"
    assert vietnamese.from_name == "Nguyễn Thị Hương"
    assert vietnamese.to == [("Bộ phận hỗ trợ", "support@example.com")]
    persian = load("persian_qp.eml")
    assert persian.subject == "Re: [HD-ZT5B7N] مشکل فاکتور"
    assert persian.from_name == "مریم احمدی"
    japanese = load("japanese_iso2022jp.eml")
    assert japanese.subject == "商品が届きません"
    assert japanese.from_name == "山田花子"
    assert "注文番号 30991 の商品がまだ届いていません。" in japanese.text
    russian = load("russian_koi8r.eml")
    assert russian.subject == "Re: [HD-M3K8PW] Принтер"
    assert russian.from_name == "Иван Петров"
    outlook = load("outlook_reply_cp1252.eml")
    assert outlook.from_name == "Grégoire Lefèvre"
    assert "Here\u2019s the invoice total you asked for: 120 \u20ac" in (outlook.html or "")


def test_wrong_and_unknown_declared_charsets_fall_back_to_what_the_bytes_are() -> None:
    latin1_label = load("wrong_charset_declared_latin1.eml")
    assert "Größe" in latin1_label.text and "Ã" not in latin1_label.text
    unknown = load("unknown_charset.eml")
    assert unknown.subject == "Problème de connexion"
    assert unknown.from_name == "Renée"
    assert "Je n\u2019arrive plus à me connecter" in unknown.text


def test_undecodable_bytes_become_replacement_characters_not_errors() -> None:
    raw = (
        b"From: a@example.com\nSubject: x\nContent-Type: text/plain; charset=utf-8\n"
        b"Content-Transfer-Encoding: 8bit\n\nok \x81\x8d\x8f\x90\x9d\xff end \x00 nul\n"
    )
    parsed = parse_message(raw)
    assert parsed.text.startswith("ok ")
    assert parsed.text.endswith(" end  nul")
    assert "\x00" not in parsed.text


def test_html_charset_declared_only_in_meta_tag() -> None:
    raw = (
        b"From: a@example.com\nSubject: x\nContent-Type: text/html\n\n<html><head><meta "
        b'http-equiv="Content-Type" content="text/html; charset=koi8-r"></head><body>'
        + "Принтер не печатает".encode("koi8-r")
        + b"</body></html>"
    )
    assert parse_message(raw).text == "Принтер не печатает"


def test_nonsense_charset_labels_in_headers_and_bodies() -> None:
    raw = (
        b"From: =?utf-j?q?Ren=C3=A9e?= <r@example.com>\nSubject: =?base64?q?caf=C3=A9?=\n"
        b"Content-Type: text/plain; charset=utf-j\n\ncaf\xc3\xa9\n"
    )
    parsed = parse_message(raw)
    assert (parsed.from_name, parsed.subject, parsed.text) == ("Renée", "café", "café")


def test_malformed_headers_degrade_instead_of_failing() -> None:
    parsed = load("malformed_headers.eml")
    assert parsed.from_address == "john.smith@mail.example.com"
    assert parsed.from_name == "Smith, John"
    assert parsed.to == [("", "support@example.com")]
    assert parsed.subject == "Café order still open"
    assert parsed.date is None
    assert parsed.message_id == "Malformed.42@mail.example.com"
    assert parsed.references == ["a@x"]
    assert any(defect.startswith("From:") for defect in parsed.defects)
    assert "Date: unreadable" in parsed.defects


def test_unusable_input_raises_mail_parse_error() -> None:
    for raw in (b"", b"  \r\n\r\n ", b"Hello support, this is not a mail at all.\n\nBye\n"):
        with pytest.raises(MailParseError) as caught:
            parse_message(raw)
        assert caught.value.reason


def test_leading_blank_lines_from_a_pipe_are_tolerated() -> None:
    raw = b"\r\n\r\n" + (CORPUS / "signature.eml").read_bytes()
    assert parse_message(raw).from_address == "bob@builders.example.com"


# --------------------------------------------------------------------------- quote stripping


def test_apple_mail_format_flowed_is_rejoined_and_phone_footer_dropped() -> None:
    parsed = load("apple_mail_flowed.eml")
    assert parsed.new_text == (
        "Yes, the order number is 55120. It was delivered to the wrong address, the parcel is "
        "with my neighbour at number 12."
    )
    assert "Sent from my iPhone" in parsed.full_text


def test_outlook_and_other_language_histories_are_hidden() -> None:
    assert "Could you send us" not in load("outlook_reply_cp1252.eml").new_text
    assert "update the client" not in load("outlook_original_message.eml").new_text
    assert "Chúng tôi đã gửi" not in load("vietnamese_outlook_reply.eml").new_text
    assert "Chị vui lòng" not in load("vietnamese_base64.eml").new_text
    assert "دوباره امتحان" not in load("persian_qp.eml").new_text
    assert "картридж" not in load("russian_koi8r.eml").new_text
    assert "Could you paste" not in load("very_long_line.eml").new_text


def test_forwarded_text_is_content_not_history() -> None:
    gmail = load("forward_inline_gmail.eml")
    assert gmail.is_forward
    assert "From: Jane Roe <jane.roe@mail.example.net>" in gmail.new_text
    outlook = load("outlook_forward.eml")
    assert outlook.is_forward
    assert "From: Customer Dana <dana@mail.example.net>" in outlook.new_text


def test_interleaved_answers_keep_their_questions() -> None:
    parsed = load("interleaved_reply.eml")
    assert parsed.new_text == (
        "> Which operating system?\nUbuntu 22.04.\n"
        "> Does the export work for small reports?\nYes, up to about 100 rows."
    )


def test_quoted_lines_in_a_new_request_are_the_senders_own() -> None:
    raw = (
        b"From: Ann <ann@example.com>\nTo: support@example.com\nSubject: Upload fails\n\n"
        b"Uploading fails with this error:\n\n> Permission denied (code 13)\n"
    )
    assert parse_message(raw).new_text.endswith("> Permission denied (code 13)")
    # In a reply, a trailing quote under a line ending in ":" is the answered mail.
    reply = parse_message(raw.replace(b"Subject: Upload", b"Subject: Re: Upload"))
    assert "Permission denied" not in reply.new_text
    assert "Permission denied" in reply.full_text


def test_signature_is_cut() -> None:
    parsed = load("signature.eml")
    assert "Phone +1 555 0100" not in parsed.new_text
    assert "Phone +1 555 0100" in parsed.full_text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Danke!\n\nAm 05.03.2024 um 10:00 schrieb Support <s@example.com>:\n> Hallo",
            "Danke!",
        ),
        ("Merci.\n\nLe mar. 5 mars 2024 à 10:00, Support <s@example.com> a écrit :\n> x", "Merci."),
        ("Gracias.\n\nEl mar, 5 mar 2024 a las 10:00, Soporte escribió:\n> x", "Gracias."),
        ("Ok.\n\n-----Ursprüngliche Nachricht-----\nVon: Support\nGesendet: heute\n", "Ok."),
        # A sentence starting with "From:" is not an Outlook header block.
        (
            "From: my experience the app is slow.\nTo be honest it is unusable.",
            "From: my experience the app is slow.\nTo be honest it is unusable.",
        ),
        ("Sent from my iPhone, this photo shows it.\nMore text.", None),
        ("\n\nOn Mon, Jan 1, 2024 at 9:00 AM A <a@example.com> wrote:\n> only quote\n", ""),
        ("Line one\n--\nJane", "Line one"),
        # Without a quote below it and without a date or address, "... wrote:" is prose.
        (
            "My colleague wrote:\nThe printer is broken since Monday.",
            "My colleague wrote:\nThe printer is broken since Monday.",
        ),
        # "From:" followed by unrelated lines and a late "Subject:" is not a header block.
        ("Hi\nFrom: the shop\nI got\nnothing\nat all\nSubject: refund\nDate: x", None),
    ],
)
def test_strip_quotes_rules(text: str, expected: str | None) -> None:
    assert strip_quotes(text) == (text if expected is None else expected)


# --------------------------------------------------------------------------- attachments


def test_inline_cid_image_shown_in_place_and_remote_image_blocked() -> None:
    parsed = load("inline_and_remote_images.eml")
    by_name = {attachment.filename: attachment for attachment in parsed.attachments}
    assert by_name["error-dialog.png"].is_inline
    assert by_name["error-dialog.png"].content_id == "error-dialog.png@01DA70AB"
    assert by_name["error-dialog.png"].payload.startswith(b"\x89PNG")
    assert not by_name["full-screenshot.png"].is_inline
    assert [a.filename for a in parsed.attachment_files] == ["full-screenshot.png"]
    assert 'src="cid:error-dialog.png@01DA70AB"' in (parsed.html or "")
    assert "cdn.mail.example.de" not in (parsed.html or "")
    assert parsed.remote_images_blocked == 1

    allowed = load("inline_and_remote_images.eml", allow_remote_images=True)
    assert 'src="https://cdn.mail.example.de/logo.png"' in (allowed.html or "")
    assert allowed.remote_images_blocked == 0


def test_non_ascii_attachment_names_rfc2231_and_rfc2047() -> None:
    parsed = load("pdf_rfc2231_filename.eml")
    files = [(a.filename, a.content_type, a.is_inline) for a in parsed.attachments]
    assert files == [
        ("Hóa đơn tháng 3.pdf", "application/pdf", False),
        (
            "Bảng giá.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            False,
        ),
    ]
    assert parsed.attachments[0].payload.startswith(b"%PDF-1.4")
    assert parsed.attachments[0].payload.endswith(b"%%EOF\n")


def test_forward_as_attachment_becomes_an_eml_file() -> None:
    parsed = load("forward_as_attachment.eml")
    assert parsed.is_forward
    [attached] = parsed.attachments
    assert attached.filename == "Order 1234 missing.eml"
    assert attached.content_type == "message/rfc822"
    inner = email.message_from_bytes(attached.payload, policy=email.policy.default)
    assert inner["Subject"] == "Order 1234 missing"
    assert "My order 1234 has not arrived" in inner.get_content()
    assert "My order 1234" not in parsed.text


def test_nested_multipart_picks_text_html_and_files() -> None:
    parsed = load("nested_multipart.eml")
    assert parsed.text == "The app crashes right after the splash screen. Logs attached."
    assert '<img src="cid:splash@nora">' in (parsed.html or "")
    files = [(a.filename, a.content_type, a.is_inline) for a in parsed.attachments]
    assert files == [
        ("attachment-1.png", "image/png", True),
        ("logs.zip", "application/zip", False),
    ]


def test_bounce_report_parts_are_readable_files() -> None:
    parsed = load("dsn_bounce.eml")
    by_name = {attachment.filename: attachment.payload for attachment in parsed.attachments}
    assert b"Status: 5.1.1" in by_name["delivery-status.txt"]
    assert b"Message-ID: <HD-4F7K2Q.9@desk.example.com>" in by_name["original-headers.txt"]


def test_attachment_names_cannot_escape_a_folder() -> None:
    raw = (
        b"From: a@example.com\nSubject: x\nMIME-Version: 1.0\n"
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\nContent-Type: text/plain\n\nhi\n'
        b"--b\nContent-Type: application/octet-stream\nContent-Disposition: attachment; "
        b'filename="..\\\\..\\\\evil\x01.exe"\n\nMZ\n--b--\n'
    )
    [attachment] = parse_message(raw).attachments
    assert attachment.filename == "evil.exe"


# --------------------------------------------------------------------------- HTML


def test_hostile_html_is_neutralised_but_readable() -> None:
    parsed = load("html_with_script.eml")
    html = parsed.html or ""
    for needle in (
        "<script", "document.cookie", "onerror", "onload", "javascript:", "data:text/html",
        "<iframe", "<form", "<input", "<svg", "<object", "<meta", "<link", "attacker.example.net",
        "url(",
    ):  # fmt: skip
        assert needle not in html, needle
    assert "<p>Please help, I cannot reach my account.</p>" in html
    assert '<div style="color:red">styled</div>' in html
    assert parsed.remote_images_blocked == 2  # "x" and the protocol-relative tracker
    assert "document.cookie" not in parsed.text


def test_html_only_mail_gets_a_text_body_without_css_or_title() -> None:
    parsed = load("html_only_newsletter.eml")
    assert parsed.text.startswith("Spring sale: 30 % off everything\n\nDear customer,")
    assert "Shop the sale <https://shop.example.net/sale?utm=mail>" in parsed.text
    assert "display:none" not in parsed.text
    assert "Spring sale newsletter" not in parsed.text  # the <title>
    assert "track.shop.example.net" not in (parsed.html or "")
    assert "table-bg.png" not in (parsed.html or "")
    assert parsed.remote_images_blocked == 1


def test_sanitize_and_html_to_text_helpers() -> None:
    cleaned = sanitize_mail_html('<img src="//t.example.net/p.gif" alt="a"><b>hi</b>')
    assert cleaned == '<img alt="a"><b>hi</b>'
    assert html_to_text("<p>Hi</p><blockquote><p>old</p></blockquote>") == "Hi\n\n> old"


# --------------------------------------------------------------------------- noise


def _headers(*lines: str) -> bytes:
    return ("\n".join(["From: Someone <someone@example.com>", *lines]) + "\n\nbody\n").encode()


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ((), None),
        (("Auto-Submitted: no",), None),
        (("Auto-Submitted: auto-generated",), "auto-generated"),
        (("Auto-Submitted: auto-replied; owner-email=x@example.com",), "auto-reply"),
        (("X-Autorespond: vacation",), "auto-reply"),
        # "Do not answer me automatically", not "I am automatic": Outlook writes it on
        # mail people send, and the noise check dropped them (see test_adversarial_mail_again).
        (("X-Auto-Response-Suppress: DR, OOF",), None),
        (("X-Auto-Response-Suppress: All",), None),
        (("X-Auto-Response-Suppress: All", "Auto-Submitted: auto-replied"), "auto-reply"),
        (("Precedence: junk",), "bulk"),
        (("List-Unsubscribe: <https://news.example.com/u>",), "bulk"),
        (("Return-Path: <>",), "bounce"),
        (("X-Failed-Recipients: nobody@example.net",), "bounce"),
        (("Content-Type: multipart/report; report-type=delivery-status; boundary=x",), "bounce"),
    ],
)
def test_noise_headers(lines: tuple[str, ...], expected: str | None) -> None:
    assert detect_noise(_headers(*lines)) == expected


def test_noise_from_postmaster_and_on_a_message_object() -> None:
    raw = b"From: postmaster@mx.example.net\nSubject: failure\n\nbody\n"
    assert detect_noise(raw) == NoiseReason.BOUNCE
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert detect_noise(message) == "bounce"


def test_list_mail_through_the_desks_own_group_is_not_noise() -> None:
    parsed = load("mailing_list.eml")
    assert detect_noise(parsed) == "mailing-list"
    assert detect_noise(parsed, allowed_list_ids=["python-helpers.lists.example.org"]) is None


# --------------------------------------------------------------------------- ticket codes


@pytest.mark.parametrize(
    ("subject", "prefix", "expected"),
    [
        ("Re: [HD-4F7K2Q] Cannot log in", "HD", "HD-4F7K2Q"),
        ("AW: AW: [hd-4f7k2q] lowercase from a phone", "HD", "HD-4F7K2Q"),
        ("[ HD-4F7K2Q ] spaced", "HD", "HD-4F7K2Q"),
        ("Re: [SUP-ABCDEF] other prefix", "SUP", "SUP-ABCDEF"),
        ("Re: [SUP-ABCDEF] other prefix", "HD", None),
        ("About HD-4F7K2Q, not bracketed", "HD", None),
        ("[HD-4F7K2O] has a letter O, not in the alphabet", "HD", None),
        ("[HD-4F7K2] too short", "HD", None),
        ("[HD-4F7K2QQ] too long", "HD", None),
        ("", "HD", None),
        ("[HD-222222] then [HD-333333]", "HD", "HD-222222"),
    ],
)
def test_extract_ticket_code(subject: str, prefix: str, expected: str | None) -> None:
    assert extract_ticket_code(subject, prefix) == expected


def test_dates_without_zone_are_utc_and_offsets_are_kept() -> None:
    raw = b"From: a@example.com\nDate: Mon, 4 Mar 2024 10:00:00 -0000\n\nx\n"
    assert parse_message(raw).date == datetime(2024, 3, 4, 10, 0, tzinfo=UTC)
    persian = load("persian_qp.eml")
    assert persian.date is not None
    assert persian.date.utcoffset() == timedelta(hours=3, minutes=30)


# -- large multipart mails: their parts' bodies read whole ----------------------------------

_FILE = b"%PDF-1.4\n" + bytes(range(256)) * 120 + b"\n%%EOF\n"  # about 30 kB


def _multipart(body: bytes, boundary: bytes = b"XyZ", newline: bytes = b"\r\n") -> bytes:
    head = [
        b"From: Lan Nguyen <lan@example.com>",
        b"To: support@example.com",
        b"Subject: Contract",
        b"MIME-Version: 1.0",
        b'Content-Type: multipart/mixed; boundary="' + boundary + b'"',
    ]
    return newline.join(head) + newline + newline + body.replace(b"\n", newline)


_LARGE_MULTIPART = {
    "file and text, preamble and epilogue": _multipart(
        b"This is a multi-part message.\n--XyZ\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Please find the signed contract attached.\n\n--XyZ\n"
        b"Content-Type: application/pdf; name=contract.pdf\n"
        b"Content-Disposition: attachment; filename=contract.pdf\n"
        b"Content-Transfer-Encoding: base64\n\n"
        + base64.encodebytes(_FILE)
        + b"--XyZ--\nepilogue\n"
    ),
    "LF line breaks, a body line quoting the boundary": _multipart(
        b"--XyZ\nContent-Type: text/plain\n\nThe boundary --XyZ in a sentence\n"
        b"--XyZx is no boundary\n"
        + b"line\n" * 4000
        + b"--XyZ  \nContent-Type: text/html\n\n<p>hi</p>\n--XyZ--",
        newline=b"\n",
    ),
    "consecutive boundaries": _multipart(
        b"--XyZ\n--XyZ\nContent-Type: text/plain\n\n" + b"x" * 20000 + b"\n--XyZ--\n"
    ),
    "no closing boundary": _multipart(b"--XyZ\nContent-Type: text/plain\n\n" + b"y\n" * 10000),
    "a part without headers": _multipart(b"--XyZ\n\n" + b"z\n" * 10000 + b"--XyZ--\n"),
    "an attached mail": _multipart(
        b"--XyZ\nContent-Type: message/rfc822\n\nSubject: inner\n\n" + b"w\n" * 10000 + b"--XyZ--\n"
    ),
    "a nested multipart": _multipart(
        b"--XyZ\nContent-Type: multipart/alternative; boundary=in\n\n--in\n"
        b"Content-Type: text/plain\n\n" + b"v\n" * 10000 + b"--in--\n--XyZ--\n"
    ),
}


@pytest.mark.parametrize("name", sorted(_LARGE_MULTIPART))
def test_a_large_multipart_mail_reads_as_the_feed_parser_reads_it(name, monkeypatch):
    """Large multipart mails (files attached) have their parts' bodies read whole, not line by
    line: what the ticket gets (text, HTML, files and their bytes, defects) is the same as
    the standard library's feed parser gives, for odd shapes too."""
    from flask_helpdesk.mail import parsing

    raw = _LARGE_MULTIPART[name]
    assert len(raw) >= parsing.LARGE_MULTIPART[0]
    fast = parse_message(raw)
    monkeypatch.setattr(parsing, "LARGE_MULTIPART", (0, 0))
    assert parse_message(raw) == fast


def test_a_large_mail_with_a_file_keeps_the_file_and_the_text():
    from flask_helpdesk.mail import parsing

    raw = _LARGE_MULTIPART["file and text, preamble and epilogue"]
    assert parsing._parse_large_multipart(raw) is not None  # read the quick way
    parsed = parse_message(raw)
    assert parsed.text == "Please find the signed contract attached."
    assert [(a.filename, a.payload) for a in parsed.attachments] == [("contract.pdf", _FILE)]
