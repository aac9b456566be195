"""Names people type or mail in any script keep the invisible joiners their words need, and lose
the characters that make a name read as something else (session 14's adversary pass).

Persian writes many words with a zero-width non-joiner (U+200C: "گزارش‌ها", "reports"; without
it the letters join into another spelling), emoji sequences are held together by the
zero-width joiner (U+200D); both are Unicode format characters, as are the bidi overrides an
attacker uses to make "invoice<U+202E>gpj.exe" read as "invoiceexe.jpg".
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flask_helpdesk.inputs import JOINERS
from flask_helpdesk.services.attachments import clean_filename
from flask_helpdesk.services.base import ValidationError
from flask_helpdesk.services.calendars import create_calendar
from flask_helpdesk.services.sla_policies import PolicyData, create_policy
from tests.sla.conftest import admin  # noqa: F401  (an actor, as the services take it)

REPORTS = "گزارش\u200cها"  # "reports" in Persian, with its ZWNJ
WORKING_HOURS = "ساعات\u200cکاری تهران"  # "Tehran working hours"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji made of three
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def test_a_file_name_keeps_the_joiners_of_its_words():
    assert clean_filename(f"{REPORTS}.pdf") == f"{REPORTS}.pdf"
    assert clean_filename(f"{FAMILY}.png") == f"{FAMILY}.png"


@pytest.mark.parametrize("override", BIDI)
def test_a_file_name_loses_bidi_overrides_and_controls(override):
    assert clean_filename(f"invoice{override}gpj.exe") == "invoicegpj.exe"
    assert clean_filename("a\x00b\r\n.txt") == "ab.txt"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_a_cleaned_file_name_has_no_control_or_bidi_character(text):
    name = clean_filename(text)
    assert name and "/" not in name and "\\" not in name
    assert all(ch in JOINERS or unicodedata.category(ch)[0] != "C" for ch in name)
    assert not set(name) & set(BIDI)


def test_a_calendar_and_an_sla_policy_may_have_a_persian_name(app, admin):  # noqa: F811
    assert create_calendar(admin, WORKING_HOURS).name == WORKING_HOURS
    name = "پاسخ\u200cگویی فوری"  # "urgent answering"
    assert create_policy(admin, PolicyData(name, first_response_minutes=30)).name == name


@pytest.mark.parametrize("override", ["\u202e", "\x00", "\u2066"])
def test_names_with_overrides_or_controls_are_still_refused(app, admin, override):  # noqa: F811
    with pytest.raises(ValidationError):
        create_calendar(admin, f"Berlin{override}office")
    with pytest.raises(ValidationError):
        create_policy(admin, PolicyData(f"Gold{override}", first_response_minutes=30))
