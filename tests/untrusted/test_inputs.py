"""The one parser of numbers and search text from untrusted input (flask_helpdesk/inputs.py)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from flask_helpdesk.inputs import MAX_ID, MAX_SEARCH_LENGTH, clean_search, parse_id, parse_int


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(), st.integers(), st.none(), st.booleans(), st.floats()))
def test_parse_id_never_raises_and_stays_in_the_column(value):
    number = parse_id(value)
    assert number is None or 1 <= number <= MAX_ID


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_clean_search_is_short_and_free_of_control_characters(text):
    cleaned = clean_search(text)
    assert len(cleaned) <= MAX_SEARCH_LENGTH
    assert "\x00" not in cleaned and "\n" not in cleaned
    assert cleaned == cleaned.strip()


def test_examples():
    assert parse_id("42") == 42
    assert parse_id(" 7 ") == 7
    for bad in ("0", "-1", "2147483648", "99999999999999999999", "1e3", "٣", "²", "", "x"):
        assert parse_id(bad) is None, bad
    assert parse_int("-5", -10, 10) == -5
    assert parse_int("9" * 5000) is None  # refused before int(): no ValueError, no slowness
    assert clean_search("  Cannot\x00change\r\n ") == "Cannot change"
    assert clean_search("x" * 60_000) == "x" * MAX_SEARCH_LENGTH
