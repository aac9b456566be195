"""Odd mails as real systems write them, byte for byte, each with where that shape comes from.

Written for these tests (not copied from any corpus). Mail from other help desks' regression
corpora and mail-library test suites has these shapes; the tests in
``test_real_mail_intake.py`` check each one ends as a ticket (or, without any address, as a
failure an admin can file). No pytest here, so a benchmark could reuse them.
"""

from __future__ import annotations

import base64


def crlf(text: bytes) -> bytes:
    """Line endings as SMTP carries them (most mail reaches a pipe or IMAP with CRLF)."""
    return text.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# -- no From header ----------------------------------------------------------------------------

# A shop's contact form on shared hosting (PHP mail()) forgets From; the visitor's address is
# only in Reply-To, and the hosting's Postfix adds nothing because the script set none.
NO_FROM_REPLY_TO = crlf(b"""\
Return-Path: <www-data@shop.example.net>
To: support@example.com
Subject: Order 1042 never arrived
Reply-To: Minh Tran <minh.tran@example.org>
X-Mailer: PHP/7.4.33
Message-ID: <20240311093012.4F2A1C0@shop.example.net>
Date: Mon, 11 Mar 2024 09:30:12 +0100
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit

Hello, my order 1042 never arrived. Can you check?
""")

# A mailing-list style gateway that rewrites the author away and keeps only Sender.
NO_FROM_SENDER_ONLY = crlf(b"""\
Sender: Ops Gateway <gateway@ops.example.org>
To: support@example.com
Subject: Nightly import finished with warnings
Message-ID: <gw.7731@ops.example.org>
Date: Tue, 12 Mar 2024 02:00:04 +0000

3 rows skipped.
""")

# cron on a server mails a script's output through /usr/sbin/sendmail with no headers of its
# own; Postfix delivers it to the help desk's pipe, adding only Return-Path (from the
# envelope) — the address is root@localhost, which no web form accepts.
CRON_RETURN_PATH = b"""\
Return-Path: <root@localhost>
X-Original-To: support@example.com
Delivered-To: support@example.com
Received: by backup1.intranet (Postfix, from userid 0)
\tid 3A1F22004B; Wed, 13 Mar 2024 03:15:01 +0100 (CET)
Subject: Cron <root@backup1> /usr/local/bin/backup.sh
Message-Id: <20240313021501.3A1F22004B@backup1.intranet>
Date: Wed, 13 Mar 2024 03:15:01 +0100 (CET)

rsync: connection unexpectedly closed (0 bytes received so far)
"""

# Postfix's pipe(8) with flags=F hands a monitoring alert over with an mbox "From " line
# carrying the envelope sender; the alert itself has no sender header of any kind.
MBOX_ENVELOPE_ONLY = b"""\
From nagios@monitor.intranet  Thu Mar 14 04:02:11 2024
To: support@example.com
Subject: PROBLEM: disk /var on db2 is 97% full
Date: Thu, 14 Mar 2024 04:02:11 +0100

***** Nagios *****
Host: db2
"""

# An SMS-to-mail gateway writes the phone number as From, with no domain and no other
# sender header: nothing a reply could go to.
NO_ADDRESS_AT_ALL = crlf(b"""\
From: +84901234567
To: support@example.com
Subject: SMS from +84901234567
Message-ID: <sms-5566@gateway.example.net>
Date: Fri, 15 Mar 2024 10:00:00 +0700

My account is locked, please call me.
""")

# A Postfix bounce relayed by a gateway that dropped its From: only the null envelope sender
# in Return-Path and the delivery report remain. Noise, not a customer: kept as ignored.
POSTFIX_BOUNCE_NO_FROM = crlf(b"""\
Return-Path: <>
Delivered-To: support@example.com
Subject: Undelivered Mail Returned to Sender
Message-Id: <20240315100501.6C1E2200A1@mx.example.com>
Date: Fri, 15 Mar 2024 10:05:01 +0100 (CET)
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="6C1E2200A1.1710493501/mx.example.com"

--6C1E2200A1.1710493501/mx.example.com
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.example.com.
I'm sorry to have to inform you that your message could not be delivered.

--6C1E2200A1.1710493501/mx.example.com
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; nobody@example.org
Action: failed
Status: 5.1.1

--6C1E2200A1.1710493501/mx.example.com--
""")

# -- broken header blocks ------------------------------------------------------------------------

# A home-made PHP mailer folds a long subject without indenting the continuation line; the
# standard library would end the headers there and lose From and Content-Type.
BROKEN_CONTINUATION = crlf(b"""\
Subject: Invoice 2024-118 shows the wrong VAT number and the wrong
company address since the March update
From: Accounting <accounting@client.example.org>
To: billing@example.com
Message-ID: <inv-2024-118@client.example.org>
Date: Mon, 18 Mar 2024 14:22:00 +0100
Content-Type: text/plain; charset=utf-8

Please correct the VAT number on invoice 2024-118.
""")

# A forwarding script (procmail, an mbox export) leaves the mbox separator and a quoted
# ">From " line in front; one old SMTP gateway writes "Subject :" with a blank before the
# colon (obsolete RFC 822 syntax).
MBOX_AND_OBSOLETE_SYNTAX = b"""\
From lan@example.com Sat Mar 16 08:00:00 2024
>From lan@example.com Sat Mar 16 08:00:00 2024
From: Lan Nguyen <lan@example.com>
To: support@example.com
Subject : Password reset link expired
Message-ID: <mbox-0316@example.com>
Date: Sat, 16 Mar 2024 08:00:00 +0700

The link in your mail says it expired.
"""

# A webhook relay prepends its own status line and a blank line before the mail it posts.
GARBAGE_FIRST_LINE = crlf(b"""\
200 OK queued as 4F2A1C0

From: Lan Nguyen <lan@example.com>
To: support@example.com
Subject: Cannot change my e-mail address
Message-ID: <relay-77@example.com>
Date: Sun, 17 Mar 2024 09:00:00 +0700

The settings page shows an error.
""")

# -- addresses a web form refuses ----------------------------------------------------------------

# A scanner on a company LAN sends "scan-to-mail" from a host without a dotted domain.
INTRANET_SENDER = crlf(b"""\
From: Scanner 3rd floor <scanner@intranet>
To: support@example.com
Subject: Scanned document
Message-ID: <scan.0001@intranet>
Date: Mon, 18 Mar 2024 11:00:00 +0100

Scan attached.
""")

# Lotus Domino and some mainframe gateways write a local part with a space, quoted.
QUOTED_LOCAL_PART = crlf(b"""\
From: "john smith"@legacy.example.com
To: support@example.com
Subject: Access to the portal
Message-ID: <OF1A2B3C4D.5E6F7A8B-ON@legacy.example.com>
Date: Mon, 18 Mar 2024 11:05:00 +0100

Please give me access.
""")

# An internationalized domain in Unicode, raw UTF-8 in the header (RFC 6532, as Postfix with
# SMTPUTF8 delivers a mail from a German IDN domain) ...
IDN_UNICODE = crlf(
    """\
From: Jürgen Müller <jm@bücher.example>
To: support@example.com
Subject: Lieferung
Message-ID: <idn-1@xn--bcher-kva.example>
Date: Mon, 18 Mar 2024 12:00:00 +0100
Content-Type: text/plain; charset=utf-8

Wo bleibt meine Lieferung?
""".encode()
)

# ... and the same address as Thunderbird writes it, in punycode: the same person.
IDN_PUNYCODE = crlf(b"""\
From: =?utf-8?q?J=C3=BCrgen_M=C3=BCller?= <jm@xn--bcher-kva.example>
To: support@example.com
Subject: Re: Lieferung
Message-ID: <idn-2@xn--bcher-kva.example>
Date: Mon, 18 Mar 2024 12:30:00 +0100

Noch eine Frage.
""")

# -- raw 8-bit headers -----------------------------------------------------------------------------


def _raw8(headers: str, body: str, charset: str, declared: str | None) -> bytes:
    content_type = (
        f"Content-Type: text/plain; charset={declared}\nContent-Transfer-Encoding: 8bit\n"
        if declared
        else ""
    )
    return crlf(f"{headers}{content_type}\n{body}".encode(charset))


# Outlook 2003 on Chinese Windows (and Foxmail 6): subject and name in raw GBK, no
# encoded-word; the body declares gb2312 although it holds GBK-only characters.
GBK_OUTLOOK = _raw8(
    "From: 张三丰 <zhang@example.cn>\nTo: support@example.com\n"
    "Subject: 无法登录系统，请帮忙\nMessage-ID: <000a01c4@example.cn>\n"
    "Date: Tue, 19 Mar 2024 09:00:00 +0800\nX-Mailer: Microsoft Office Outlook 11\n",
    "你好，我从昨天起无法登录。喆\n",
    "gbk",
    "gb2312",
)

# Outlook Express 6 on Traditional Chinese Windows: raw Big5 headers, body declared big5.
BIG5_OUTLOOK_EXPRESS = _raw8(
    "From: 陳大文 <chan@example.tw>\nTo: support@example.com\n"
    "Subject: 帳戶被鎖定\nMessage-ID: <001b01c5@example.tw>\n"
    "Date: Tue, 19 Mar 2024 10:00:00 +0800\nX-Mailer: Microsoft Outlook Express 6.00\n",
    "您好，我的帳戶被鎖定了。\n",
    "big5",
    "big5",
)

# An old Japanese web-form CGI: the body declares ISO-2022-JP (7-bit), but the subject and
# name were written raw in Shift-JIS, the server's code page.
SJIS_CGI = crlf(
    "From: 山田太郎 <yamada@example.jp>\nTo: support@example.com\n"
    "Subject: ログインできません\nMessage-ID: <cgi.20240319@example.jp>\n"
    "Date: Tue, 19 Mar 2024 11:00:00 +0900\n".encode("shift_jis")
    + b"Content-Type: text/plain; charset=ISO-2022-JP\nContent-Transfer-Encoding: 7bit\n\n"
    + "昨日からログインできません。\n".encode("iso2022_jp")
)

# The Bat! on Russian Windows set to KOI8-R, writing headers raw.
KOI8R_THE_BAT = _raw8(
    "From: Иван Петров <ivan@example.ru>\nTo: support@example.com\n"
    "Subject: Не могу войти в личный кабинет\nMessage-ID: <1788914925.20240319@example.ru>\n"
    "Date: Tue, 19 Mar 2024 12:00:00 +0300\nX-Mailer: The Bat! (v3.5)\n",
    "Здравствуйте, не могу войти.\n",
    "koi8_r",
    "koi8-r",
)

# Eudora on Windows: raw ISO-8859-1 subject and name, body declared iso-8859-1.
LATIN1_EUDORA = _raw8(
    "From: Renée Lefèvre <renee@example.fr>\nTo: support@example.com\n"
    "Subject: Problème de facturation\nMessage-ID: <6.2.0.14.0.20240319@example.fr>\n"
    "Date: Tue, 19 Mar 2024 13:00:00 +0100\nX-Mailer: QUALCOMM Windows Eudora Version 6.2\n",
    "Bonjour, la facture est fausse.\n",
    "latin-1",
    "iso-8859-1",
)

# A PHP script on a Chinese web host: no MIME headers at all, subject and body raw GBK.
GBK_UNDECLARED = _raw8(
    "From: 李四 <lisi@example.cn>\nTo: support@example.com\n"
    "Subject: 订单没有收到\nMessage-ID: <php.99@example.cn>\n"
    "Date: Tue, 19 Mar 2024 14:00:00 +0800\n",
    "我的订单已经付款三天了，还没有收到，请尽快处理。谢谢！\n",
    "gbk",
    None,
)


# Outlook 2003 on Chinese Windows attaching a file: the subject is plain ASCII, but the file
# name is raw GBK in both name= and filename= (no RFC 2231, no encoded-word); only the body
# part declares gb2312.
GBK_ATTACHMENT_NAME = crlf(
    b"From: Zhang San <zhang@example.cn>\nTo: support@example.com\nSubject: Quarterly report\n"
    b"Message-ID: <000b01c4@example.cn>\nDate: Tue, 19 Mar 2024 09:30:00 +0800\n"
    b'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="----=_NextPart_000"\n\n'
    b'------=_NextPart_000\nContent-Type: text/plain; charset="gb2312"\n\n'
    + "请看附件。\n".encode("gbk")
    + b"------=_NextPart_000\n"
    + 'Content-Type: application/pdf; name="季度报告.pdf"\n'
    'Content-Disposition: attachment; filename="季度报告.pdf"\n'.encode("gbk")
    + b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKJSVFT0YK\n------=_NextPart_000--\n"
)


def _b64(text: str, charset: str) -> str:
    return base64.b64encode(text.encode(charset)).decode("ascii")


# Chinese clients label GBK text as GB2312 in encoded-words; "喆" is not in GB2312.
GB2312_LABEL_GBK_TEXT = crlf(
    (
        f"From: =?GB2312?B?{_b64('王喆', 'gbk')}?= <wangzhe@example.cn>\n"
        "To: support@example.com\n"
        f"Subject: =?GB2312?B?{_b64('发票抬头错误（王喆）', 'gbk')}?=\n"
        "Message-ID: <gb2312-label@example.cn>\nDate: Wed, 20 Mar 2024 09:00:00 +0800\n"
        "Content-Type: text/plain; charset=GBK\n\n"
    ).encode("ascii")
    + "请修改发票抬头。\n".encode("gbk")
)

# Broken encoded-words as mass mailers and old webmails write them: an unknown charset
# label, base64 without its padding, an encoded-word inside a quoted display name (which
# RFC 2047 forbids and every client decodes anyway), and one cut before its closing "?=".
BROKEN_ENCODED_WORDS = crlf(b"""\
From: "=?utf-8?B?TmfDtCBUaOG7iyBMYW4=?=" <lan.ngo@example.vn>
To: support@example.com
Subject: =?x-unknown?Q?Caf=C3=A9?= =?utf-8?B?IGtow7RuZyBt4bufIMSRxrDhu6Nj?=
 =?utf-8?B?IG5o4bqtcA?=
Message-ID: <broken-ew@example.vn>
Date: Wed, 20 Mar 2024 10:00:00 +0700
Content-Type: text/plain; charset=utf-8

Xin chao.
""")

# -- inline images ---------------------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _b64_lines(data: bytes) -> str:
    encoded = base64.b64encode(data).decode("ascii")
    return "\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


# Outlook 2016 pastes a screenshot: multipart/related with image001.png referenced by a
# Content-ID with Outlook's "@01DA..." suffix; Apple Mail adds a second image under the same
# file name "image.png" (so images must be told apart by Content-ID, not by name); a third
# image is attached but not shown in the HTML.
OUTLOOK_INLINE_IMAGES = crlf(
    f"""\
From: Lan Nguyen <lan@example.com>
To: support@example.com
Subject: Error screen
Message-ID: <DB9PR01MB1234.outlook@example.com>
Date: Thu, 21 Mar 2024 09:00:00 +0700
MIME-Version: 1.0
Content-Type: multipart/related; boundary="rel"; type="multipart/alternative"

--rel
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset="us-ascii"

See the screenshots below.

--alt
Content-Type: text/html; charset="us-ascii"

<html><body><p>See the screenshots below.</p>
<p><img width="1" height="1" id="Picture_x0020_1" src="cid:image001.png@01DA7B5C.5E6F7A80"></p>
<p><img src="cid:C7A1F2E4-1B2C-4D5E-9F00-ABCDEF123456@home"></p>
<p><img src="cid:missing@nowhere"></p>
</body></html>

--alt--

--rel
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"
Content-ID: <image001.png@01DA7B5C.5E6F7A80>
Content-Transfer-Encoding: base64

{_b64_lines(PNG)}

--rel
Content-Type: image/png; name="image.png"
Content-Disposition: inline; filename="image.png"
Content-ID: <C7A1F2E4-1B2C-4D5E-9F00-ABCDEF123456@home>
Content-Transfer-Encoding: base64

{_b64_lines(PNG + b"second")}

--rel
Content-Type: image/png; name="image.png"
Content-Disposition: attachment; filename="image.png"
Content-Transfer-Encoding: base64

{_b64_lines(PNG + b"third")}

--rel--
""".encode("ascii")
)
