"""Business-day calendars for the simulated book: weekends, bank holidays, accounts-payable runs, paydays.

Dates are numpy day numbers (days since 1970-01-01) so whole books roll in one vectorised call.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays
import numpy as np

# Billing currency -> the bank-holiday calendar its receipts clear on.
CURRENCY_CALENDAR = {"USD": "US", "CAD": "CA", "GBP": "GB", "EUR": "DE", "AUD": "AU"}


def to_days(dates) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


def to_dates(days) -> np.ndarray:
    return np.asarray(days, dtype=np.int64).astype("datetime64[D]")


@cache
def business_days(country: str, first_year: int, last_year: int) -> np.ndarray:
    """Sorted day numbers of every business day (Mon-Fri, not a bank holiday) in the years given."""
    all_days = np.arange(to_days(f"{first_year}-01-01"), to_days(f"{last_year + 1}-01-01"))
    weekday = (all_days + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    closed = {to_days(str(d)).item() for d in calendar}
    is_open = (weekday < 5) & ~np.isin(all_days, list(closed))
    return all_days[is_open]


def roll_forward(days: np.ndarray, open_days: np.ndarray) -> np.ndarray:
    """Each day moved to the first open day on or after it."""
    idx = np.searchsorted(open_days, days, side="left")
    return open_days[np.minimum(idx, len(open_days) - 1)]


def last_open_on_or_before(days: np.ndarray, open_days: np.ndarray) -> np.ndarray:
    """The latest open day on or before each day (the inverse bound of roll_forward)."""
    idx = np.searchsorted(open_days, days, side="right") - 1
    return open_days[np.maximum(idx, 0)]


def ap_run_days(open_days: np.ndarray) -> np.ndarray:
    """Accounts-payable runs of larger customers: the 15th (or next business day) and the last business day."""
    dates = to_dates(open_days)
    months = dates.astype("datetime64[M]")
    day_of_month = (dates - months.astype("datetime64[D]")).astype(np.int64) + 1
    is_last = np.r_[months[1:] != months[:-1], True]
    fifteenth = day_of_month >= 15
    first_after_15 = fifteenth & np.r_[True, ~fifteenth[:-1] | (months[1:] != months[:-1])]
    return open_days[is_last | first_after_15]


def day_of_month(days: np.ndarray) -> np.ndarray:
    dates = to_dates(days)
    return (dates - dates.astype("datetime64[M]").astype("datetime64[D]")).astype(np.int64) + 1


def days_in_month(days: np.ndarray) -> np.ndarray:
    months = to_dates(days).astype("datetime64[M]")
    return ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(np.int64)


def weekday(days: np.ndarray) -> np.ndarray:
    """0 = Monday ... 6 = Sunday."""
    return (np.asarray(days) + 3) % 7


def is_payday(days: np.ndarray) -> np.ndarray:
    """Payday window: the 1st-2nd, 15th-16th and the last two days of the month, when balances are refilled."""
    dom = day_of_month(days)
    dim = days_in_month(days)
    return (dom <= 2) | (dom == 15) | (dom == 16) | (dom >= dim - 1)


def month_end(days: np.ndarray) -> np.ndarray:
    months = to_dates(days).astype("datetime64[M]")
    return to_days((months + 1).astype("datetime64[D]")) - 1


def iso(day: int) -> str:
    return str(dt.date(1970, 1, 1) + dt.timedelta(days=int(day)))
