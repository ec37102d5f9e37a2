"""PAN detection and masking (PCI-DSS): examples and properties."""

from __future__ import annotations

import re
import string

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_quality.pan import (
    PREFILTER_PATTERN,
    contains_pan,
    mask_pan_array,
    mask_pans,
    scan_frame_for_pans,
)


def luhn_check_digit(body: str) -> str:
    """Digit that makes ``body + digit`` pass the Luhn check."""
    total = 0
    # Once the check digit is appended, the last digit of body sits in a doubled position.
    for pos, ch in enumerate(reversed(body)):
        d = int(ch)
        if pos % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def with_check_digit(body: str) -> str:
    return body + luhn_check_digit(body)


def test_luhn_helper_matches_known_numbers():
    assert with_check_digit("411111111111111") == "4111111111111111"
    assert with_check_digit("37828224631000") == "378282246310005"
    assert with_check_digit("601111111111111") == "6011111111111117"


# Published test card numbers (all pass Luhn).
TEST_CARDS = [
    "4111111111111111",  # Visa
    "4012888888881881",  # Visa
    "4222222222222",  # Visa, 13 digits
    "5555555555554444",  # Mastercard
    "5105105105105100",  # Mastercard
    "2223003122003222",  # Mastercard 2-series
    "378282246310005",  # Amex
    "371449635398431",  # Amex
    "6011111111111117",  # Discover
    "6011000990139424",  # Discover
    "30569309025904",  # Diners, 14 digits
    "3530111333300000",  # JCB
    with_check_digit("622126000000000000"),  # 19 digits
]


def grouped(pan: str, sizes: list[int], sep: str) -> str:
    parts, pos = [], 0
    for size in sizes:
        parts.append(pan[pos : pos + size])
        pos += size
    if pos < len(pan):
        parts.append(pan[pos:])
    return sep.join(p for p in parts if p)


@pytest.mark.parametrize("pan", TEST_CARDS)
@pytest.mark.parametrize("layout", ["plain", "spaces", "dashes", "amex"])
def test_test_cards_are_masked_to_last_four(pan, layout):
    text = {
        "plain": pan,
        "spaces": grouped(pan, [4, 4, 4, 4], " "),
        "dashes": grouped(pan, [4, 4, 4, 4], "-"),
        "amex": grouped(pan, [4, 6, 5], " "),
    }[layout]
    note = f"Customer read card {text} over the phone."
    masked, count = mask_pans(note)
    assert count == 1
    assert masked == f"Customer read card [card ****{pan[-4:]}] over the phone."
    assert contains_pan(note)
    assert not contains_pan(masked)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("card 4111111111111111.", "card [card ****1111]."),
        ("pan:4111111111111111", "pan:[card ****1111]"),
        ("pan=4111-1111-1111-1111;", "pan=[card ****1111];"),
        ("(4111 1111 1111 1111)", "([card ****1111])"),
        ("4111111111111111", "[card ****1111]"),
        ("x_4111111111111111_y", "x_[card ****1111]_y"),
        ("card: 3782 822463 10005, thanks", "card: [card ****0005], thanks"),
        # Card then CVV / expiry: still found, the extra groups are kept.
        ("4111 1111 1111 1111 123", "[card ****1111] 123"),
        ("4111111111111111 1227 123", "[card ****1111] 1227 123"),
        ("exp 12/27 4111111111111111", "exp 12/27 [card ****1111]"),
    ],
)
def test_real_note_shapes(text, expected):
    assert mask_pans(text) == (expected, 1)


def test_two_pans_and_surrounding_text_preserved_exactly():
    note = "Dear team,\n\tfirst: 4111-1111-1111-1111 (declined)\nsecond=5555 5555 5555 4444!  Bye.\n"
    masked, count = mask_pans(note)
    assert count == 2
    assert masked == ("Dear team,\n\tfirst: [card ****1111] (declined)\nsecond=[card ****4444]!  Bye.\n")


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # Luhn fails
        "4111 1111 1111 1112",
        "3782-822463-10006",
        with_check_digit("12345678901"),  # 12 digits, Luhn-valid
        "4111111111111111" + "0000",  # 20 digits
        with_check_digit("1234567890123456789"),  # 20 digits, Luhn-valid
        "ref 1234567890123456789012345 ok",  # 25-digit reference
        "TXN4111111111111111",  # glued to letters: part of an alphanumeric id
        "4111111111111111abc",
        "call +1 (555) 123-4567 or 555-123-4567",
        "+44 20 7946 0958",
        "+33 1 23 45 67 89",
        "due 2024-01-15, paid 15/01/2024 13:45:00",
        "INV-000123 and INV-2024-000123",
        "amount 1,234.56 EUR, 1.234.567,89",
        "",
    ],
)
def test_non_pans_untouched(text):
    assert mask_pans(text) == (text, 0)
    assert not contains_pan(text)


def test_none_and_empty():
    assert mask_pans(None) == (None, 0)
    assert mask_pans("") == ("", 0)
    assert not contains_pan(None)
    assert not contains_pan("")


# --- properties -------------------------------------------------------------

NO_DIGITS = st.characters(blacklist_categories=("Nd", "Cs"))
BOUNDARY = st.sampled_from(list(string.punctuation + " \t\n"))


@st.composite
def valid_pans(draw) -> str:
    length = draw(st.integers(min_value=13, max_value=19))
    body = draw(st.text(alphabet="0123456789", min_size=length - 1, max_size=length - 1))
    return with_check_digit(body)


@st.composite
def grouped_pans(draw) -> tuple[str, str]:
    """(digits, written form with random single space/dash separators)."""
    pan = draw(valid_pans())
    parts, pos = [], 0
    while pos < len(pan):
        size = draw(st.integers(min_value=1, max_value=len(pan) - pos))
        parts.append(pan[pos : pos + size])
        pos += size
    written = parts[0]
    for part in parts[1:]:
        written += draw(st.sampled_from([" ", "-"])) + part
    return pan, written


@st.composite
def notes_with_one_pan(draw) -> tuple[str, str, str, str]:
    """(prefix, written pan, suffix, digits); no digit or letter touches the pan."""
    pan, written = draw(grouped_pans())
    prefix = draw(st.text(NO_DIGITS, max_size=20))
    suffix = draw(st.text(NO_DIGITS, max_size=20))
    if prefix:
        prefix += draw(BOUNDARY)
    if suffix:
        suffix = draw(BOUNDARY) + suffix
    return prefix, written, suffix, pan


@settings(max_examples=300, deadline=None)
@given(notes_with_one_pan())
def test_any_embedded_pan_is_masked(case):
    prefix, written, suffix, pan = case
    note = prefix + written + suffix
    assert contains_pan(note)
    masked, count = mask_pans(note)
    assert count == 1
    assert masked == f"{prefix}[card ****{pan[-4:]}]{suffix}"
    assert not contains_pan(masked)
    # Idempotent.
    assert mask_pans(masked) == (masked, 0)


# Digit-heavy text: exercises separators, long runs and near-misses.
DIGIT_HEAVY = st.text(alphabet="0123456789 -.:/xA", max_size=60)


@settings(max_examples=300, deadline=None)
@given(DIGIT_HEAVY)
def test_masking_is_idempotent_and_prefilter_is_sound(text):
    masked, count = mask_pans(text)
    assert not contains_pan(masked)
    assert mask_pans(masked) == (masked, 0)
    if count:
        # The Arrow pre-filter must flag every row mask_pans would change.
        assert re.search(PREFILTER_PATTERN, text)
    else:
        assert masked == text


def _cells():
    pan_note = notes_with_one_pan().map(lambda c: c[0] + c[1] + c[2])
    return st.one_of(st.none(), st.text(max_size=30), DIGIT_HEAVY, pan_note)


@settings(max_examples=100, deadline=None)
@given(st.lists(_cells(), max_size=40), st.sampled_from([pa.string(), pa.large_string()]))
def test_mask_pan_array_agrees_with_mask_pans(values, arrow_type):
    expected = [mask_pans(v) for v in values]
    out, count = mask_pan_array(pa.array(values, type=arrow_type))
    assert isinstance(out, pa.Array)
    assert len(out) == len(values)
    assert out.null_count == sum(v is None for v in values)
    assert out.to_pylist() == [e[0] for e in expected]
    assert count == sum(e[1] for e in expected)


def test_mask_pan_array_chunked_and_empty():
    chunks = [["card 4111111111111111", None], [], ["nothing here", "5555-5555-5555-4444 / 4222222222222"]]
    out, count = mask_pan_array(pa.chunked_array(chunks, type=pa.string()))
    assert count == 3
    assert out.to_pylist() == [
        "card [card ****1111]",
        None,
        "nothing here",
        "[card ****4444] / [card ****2222]",
    ]
    empty, n = mask_pan_array(pa.array([], type=pa.string()))
    assert len(empty) == 0 and n == 0
    nulls, n = mask_pan_array(pa.array([None, None]))
    assert nulls.to_pylist() == [None, None] and n == 0


def test_scan_frame_for_pans():
    df = pd.DataFrame(
        {
            "note": ["ok", "card 4111111111111111", None, "4111111111111112"],
            "mixed": [12, "x", "pan:5555 5555 5555 4444", 4111111111111111],
            "number": [1, 2, 3, 4],
            "arrow": pd.array(["3782-822463-10005", None, "n/a", "ok"], dtype="string[pyarrow]"),
        },
        index=["a", "b", "c", "d"],
    )
    assert sorted(scan_frame_for_pans(df)) == [("arrow", 0), ("mixed", 2), ("note", 1)]
    assert scan_frame_for_pans(df.iloc[[2, 3]]) == [("mixed", 0)]
    assert scan_frame_for_pans(df[["number"]]) == []
