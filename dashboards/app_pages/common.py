"""UI helpers shared by the pages: the warehouse guard, number formats, plain-text rendering of data values."""

from __future__ import annotations

import datetime as dt
import math
import string

import pandas as pd
import streamlit as st

from dashboards import data

BUILD_HELP = ("Build one with `make demo` (generates a demo book, builds it and serves this app) or, for your own "
              "extract, `dunning build --raw DIR --warehouse FILE`; then reload this page. The app reads the file "
              "named by the environment variable `DUNNING_WAREHOUSE` (default `build/warehouse.duckdb`); "
              "`dunning dashboard --warehouse FILE` serves any warehouse.")
BUILD_COMMANDS = """\
make demo                                     # demo book: generate, build, serve this app
dunning build --raw DIR --warehouse FILE      # your own extract (one CSV or Parquet file per entity)
dunning dashboard --warehouse FILE            # serve this app on that warehouse"""

MESSAGES = {
    "missing": "There is no warehouse at this path yet.",
    "empty": "This file holds no warehouse tables.",
    "incomplete": "This warehouse was not fully built (only loaded, or built by an older version).",
    "unreadable": "This file could not be opened as a DuckDB warehouse.",
}


def show_build_help(exc: data.WarehouseUnavailable) -> None:
    st.info(MESSAGES.get(exc.kind, "The warehouse is not available.") + " " + BUILD_HELP)
    st.code(BUILD_COMMANDS, language="bash")
    st.caption("Warehouse path:")
    st.code(str(exc.path), language=None)
    if exc.detail:
        st.caption("Detail:")
        st.code(exc.detail, language=None)


def require_warehouse() -> data.Warehouse:
    """The current warehouse, or the how-to-build message and a stop of this page."""
    try:
        wh = data.current()
        wh.check()
        return wh
    except data.WarehouseUnavailable as exc:
        show_build_help(exc)
        st.stop()
        raise  # st.stop() raises; this keeps type checkers honest


def as_of() -> dt.date | None:
    info = data.load(data.build_info)
    return None if info.empty else pd.Timestamp(info["as_of_date"].iloc[0]).date()


def header(title: str, subtitle: str = "") -> None:
    st.title(title)
    day = as_of()
    st.caption(" · ".join(p for p in (f"As of {day:%A %d %B %Y}" if day else "", subtitle) if p))


# ----------------------------------------------------------------------------------------------- formats
def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or (
        not isinstance(value, str) and pd.isna(value))


def money(value, digits: int = 0) -> str:
    """$1,234 / $1.2M; '-' when missing."""
    if _missing(value):
        return "-"
    value = float(value)
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 1e6:
        return f"{sign}${value / 1e6:,.2f}M"
    if value >= 1e4:
        return f"{sign}${value / 1e3:,.1f}k"
    return f"{sign}${value:,.{digits}f}"


def pct(value, digits: int = 1, scale: float = 100.0) -> str:
    """A rate (0-1 by default, scale=1 when already in percent) as '12.3 %'."""
    if _missing(value):
        return "-"
    return f"{float(value) * scale:.{digits}f} %"


def fmt(kind: str, value) -> str:
    """A value by kind: money, days, count, rate (0-1) or percent (0-100)."""
    return {"money": money, "days": days, "count": count, "rate": pct,
            "percent": lambda v: pct(v, 1, 1.0)}[kind](value)


def fmt_delta(kind: str, delta) -> str | None:
    """A signed change by kind; rates and percents change in percentage points."""
    if _missing(delta):
        return None
    delta = float(delta)
    sign = "+" if delta > 0 else "-" if delta < 0 else ""
    size = abs(delta)
    if kind == "rate":
        return f"{sign}{size * 100:.1f} pp"
    if kind == "percent":
        return f"{sign}{size:.1f} pp"
    if kind == "money":
        return sign + money(size)
    if kind == "days":
        return f"{sign}{size:.1f} d"
    return f"{sign}{size:,.0f}"


def days(value) -> str:
    return "-" if _missing(value) else f"{float(value):.1f} d"


def count(value) -> str:
    return "-" if _missing(value) else f"{int(value):,}"


def month(value) -> str:
    return "-" if _missing(value) else pd.Timestamp(value).strftime("%b %Y")


_MD_SPECIAL = set(string.punctuation)


def plain(value) -> str:
    """A data value safe inside a Markdown-rendering element (titles, captions): every ASCII punctuation
    character is backslash-escaped, so no link, image, HTML or directive can come from the data."""
    text = "" if _missing(value) else str(value)
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in text.replace("\n", " "))


def label(value) -> str:
    """Snake-case codes as words: 'insufficient_funds' -> 'insufficient funds'."""
    return "" if _missing(value) else str(value).replace("_", " ")


def join_reasons(frame: pd.DataFrame, columns=("reason_1", "reason_2", "reason_3")) -> pd.Series:
    """The plain-word reasons of each row in one string: 'reason one · reason two'."""
    present = [c for c in columns if c in frame.columns]
    if not present:
        return pd.Series("", index=frame.index)
    return frame[present].apply(lambda row: " · ".join(str(v) for v in row if isinstance(v, str) and v.strip()),
                                axis=1)


def worklist_why(frame: pd.DataFrame) -> pd.Series:
    """The risk reasons of each worklist row; where the model gave none, the facts that put it on the list."""
    reasons = join_reasons(frame)

    def facts(row) -> str:
        parts = []
        days_late = row.get("oldest_days_past_due")
        if not _missing(days_late):
            parts.append(f"{int(days_late)} days past due" if days_late > 0 else "not yet due")
        for flag, text in (("has_broken_promise", "broken promise"), ("is_promise_due", "promise due"),
                           ("is_reply_sla_breached", "customer reply waiting past SLA")):
            if row.get(flag) is True or row.get(flag) == 1:
                parts.append(text)
        if isinstance(row.get("escalation_reason"), str) and row["escalation_reason"]:
            parts.append(row["escalation_reason"])
        return " · ".join(parts)

    return reasons.where(reasons.str.len() > 0, frame.apply(facts, axis=1) if len(frame) else reasons)


def table_height(rows: int, max_rows: int = 12) -> int | str:
    """A dataframe height that shows up to max_rows rows without empty space below short tables."""
    return "auto" if rows <= max_rows else 38 + 35 * max_rows


MONEY = st.column_config.NumberColumn(format="dollar")
MONEY_CENTS = st.column_config.NumberColumn(format="%.2f")
PERCENT = st.column_config.NumberColumn(format="percent")
INTEGER = st.column_config.NumberColumn(format="localized")
