"""Find and mask full card numbers (PANs) in free text.

Why: PCI-DSS (requirement 3) forbids storing a full primary account number
unless it is rendered unreadable. Agents paste card numbers into call notes,
e-mails and dispute comments, and those fields flow into the warehouse and
exports. Everything that lands there must pass through :func:`mask_pans`;
only the last four digits may survive, as ``[card ****1111]``.

What counts as a PAN:

* digit groups made of ASCII digits, joined by a *single* space or dash
  (``4111 1111 1111 1111``, ``4111-1111-1111-1111``, ``3782 822463 10005``,
  ``4111111111111111``);
* each group stands on its own: not glued to a letter or to other digits
  (``pan:4111111111111111`` and ``card 4111111111111111.`` are caught, a digit
  inside ``TXN20240115123456789`` or a 25-digit reference is not);
* 13 to 19 digits in total, and the digits pass the Luhn check.

A run of digit groups (``4111 1111 1111 1111 123``: card then CVV) is searched
for whole-group windows of 13-19 digits, leftmost first, then longest, so a PAN
followed or preceded by an expiry date, a CVV or a phone number is still found.
Groups are never split, so a long unseparated number is never cut into a PAN.

Known limits (deliberate): PANs written with dots, slashes or double spaces,
or glued to letters (``card4111...``), are not detected. Masking errs on the
side of caution: a list of small numbers separated by spaces whose digits
happen to pass Luhn is masked too.

Nothing in this module logs or prints the values it looks at.
"""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "PAN_RUN_PATTERN",
    "PREFILTER_PATTERN",
    "contains_pan",
    "mask_pan_array",
    "mask_pans",
    "scan_frame_for_pans",
]

MIN_PAN_DIGITS = 13
MAX_PAN_DIGITS = 19

# A run of stand-alone digit groups joined by single spaces or dashes. Each group
# must not touch a letter or digit on either side (the separator is not alnum),
# so a group is never a slice of a longer alphanumeric token.
PAN_RUN_PATTERN = r"(?<![0-9A-Za-z])[0-9]+(?![0-9A-Za-z])(?:[ -][0-9]+(?![0-9A-Za-z]))*"
_RUN_RE = re.compile(PAN_RUN_PATTERN)
_GROUP_RE = re.compile(r"[0-9]+")

# Cheap RE2 pre-filter for Arrow: 13 digits with optional single separators.
# Any text mask_pans would change matches it (it may match more; that is fine).
PREFILTER_PATTERN = r"[0-9](?:[ -]?[0-9]){12}"

# Luhn: value of a digit in a doubled position.
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        total += _DOUBLED[d] if pos & 1 else d
    return total % 10 == 0


def _mask(digits: str) -> str:
    return f"[card ****{digits[-4:]}]"


def _pan_windows(run: str) -> list[tuple[int, int, str]]:
    """(start, end, digits) of every PAN inside one run of digit groups."""
    # Fast path: fewer characters than a PAN has digits.
    if len(run) < MIN_PAN_DIGITS:
        return []
    groups = list(_GROUP_RE.finditer(run))
    if len(groups) == 1:
        digits = run
        if MIN_PAN_DIGITS <= len(digits) <= MAX_PAN_DIGITS and _luhn_ok(digits):
            return [(0, len(run), digits)]
        return []

    found: list[tuple[int, int, str]] = []
    i, n = 0, len(groups)
    while i < n:
        # Candidate windows starting at group i, in digits order; try the longest first.
        candidates: list[tuple[int, str]] = []
        digits = ""
        for j in range(i, n):
            digits += groups[j].group()
            if len(digits) > MAX_PAN_DIGITS:
                break
            if len(digits) >= MIN_PAN_DIGITS:
                candidates.append((j, digits))
        for j, digits in reversed(candidates):
            if _luhn_ok(digits):
                found.append((groups[i].start(), groups[j].end(), digits))
                i = j + 1
                break
        else:
            i += 1
    return found


def _replace_run(match: re.Match[str], counter: list[int]) -> str:
    run = match.group()
    windows = _pan_windows(run)
    if not windows:
        return run
    counter[0] += len(windows)
    parts: list[str] = []
    pos = 0
    for start, end, digits in windows:
        parts.append(run[pos:start])
        parts.append(_mask(digits))
        pos = end
    parts.append(run[pos:])
    return "".join(parts)


def mask_pans(text: str | None) -> tuple[str | None, int]:
    """Return ``text`` with every PAN replaced by ``[card ****NNNN]``, and how many were masked."""
    if not text:
        return text, 0
    counter = [0]
    masked = _RUN_RE.sub(lambda m: _replace_run(m, counter), text)
    return masked, counter[0]


def contains_pan(text: str | None) -> bool:
    """True if ``text`` holds at least one PAN."""
    if not text:
        return False
    return any(_pan_windows(m.group()) for m in _RUN_RE.finditer(text))


def _as_string_array(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(array, pa.ChunkedArray):
        # 32-bit offsets cannot hold more than 2 GiB of text in one array.
        if pa.types.is_string(array.type) and array.nbytes >= 2**31 - 1:
            array = array.cast(pa.large_string())
        array = array.combine_chunks()
    if pa.types.is_large_string(array.type) or pa.types.is_string(array.type):
        return array
    # string_view, dictionary<string>, null, ...: normalise to plain utf8.
    return array.cast(pa.string())


def _candidate_mask(array: pa.Array) -> pa.Array:
    """Boolean array, True where the row may hold a PAN (nulls -> False)."""
    return pc.fill_null(pc.match_substring_regex(array, PREFILTER_PATTERN), False)


def mask_pan_array(array: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, int]:
    """Vectorised :func:`mask_pans` for an Arrow string column.

    The RE2 pre-filter runs in C++ over every row; only rows it flags go through
    Python. Returns an array of the same length (``string``, or ``large_string``
    if that was the input type) with nulls preserved, and the number of PANs masked.
    """
    arr = _as_string_array(array)
    candidates = _candidate_mask(arr)
    idx = pc.indices_nonzero(candidates)
    if len(idx) == 0:
        return arr, 0
    total = 0
    replacements: list[str] = []
    for value in arr.take(idx).to_pylist():
        masked, n = mask_pans(value)
        replacements.append(masked)
        total += n
    if total == 0:
        return arr, 0
    return pc.replace_with_mask(arr, candidates, pa.array(replacements, type=arr.type)), total


def _is_text_column(series: pd.Series) -> bool:
    dtype = series.dtype
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        return True
    return isinstance(dtype, pd.ArrowDtype) and (
        pa.types.is_string(dtype.pyarrow_dtype) or pa.types.is_large_string(dtype.pyarrow_dtype)
    )


def scan_frame_for_pans(df: pd.DataFrame) -> list[tuple[str, int]]:
    """(column, row position) of every text cell holding a PAN.

    Scans object and string columns; non-string values in object columns are
    skipped. Row positions are 0-based (``df.iloc``), whatever the index is.
    """
    hits: list[tuple[str, int]] = []
    for pos, column in enumerate(df.columns):
        series = df.iloc[:, pos]
        if not _is_text_column(series):
            continue
        values = [v if isinstance(v, str) else None for v in series.to_numpy(dtype=object)]
        arr = pa.array(values, type=pa.large_string())
        idx = pc.indices_nonzero(_candidate_mask(arr)).to_pylist()
        hits.extend((str(column), row) for row in idx if contains_pan(values[row]))
    return hits
