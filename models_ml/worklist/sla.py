"""Business-hour clocks for SLAs: weekends and bank holidays do not count, nor do hours outside the working day."""

from __future__ import annotations

import datetime as dt
from functools import cache

import holidays
import pandas as pd


@cache
def holiday_dates(country: str, first_year: int, last_year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays(country, years=range(first_year, last_year + 1)))


def is_business_day(day: dt.date, country: str = "US") -> bool:
    return day.weekday() < 5 and day not in holiday_dates(country, day.year - 1, day.year + 1)


def business_hours_between(start: pd.Timestamp, end: pd.Timestamp, open_hour: int = 9, close_hour: int = 17,
                           country: str = "US") -> float:
    """Working hours elapsed from `start` to `end` (naive local times); 0 when end <= start."""
    if pd.isna(start) or pd.isna(end) or end <= start:
        return 0.0
    total = 0.0
    day = start.normalize()
    while day <= end:
        if is_business_day(day.date(), country):
            window_start = day + pd.Timedelta(hours=open_hour)
            window_end = day + pd.Timedelta(hours=close_hour)
            lo, hi = max(start, window_start), min(end, window_end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += pd.Timedelta(days=1)
    return total


def add_business_hours(start: pd.Timestamp, hours: float, open_hour: int = 9, close_hour: int = 17,
                       country: str = "US") -> pd.Timestamp:
    """The moment `hours` working hours after `start` (the SLA deadline)."""
    remaining = float(hours)
    moment = start
    for _ in range(400):
        day = moment.normalize()
        window_start = day + pd.Timedelta(hours=open_hour)
        window_end = day + pd.Timedelta(hours=close_hour)
        if is_business_day(day.date(), country) and moment < window_end:
            moment = max(moment, window_start)
            available = (window_end - moment).total_seconds() / 3600
            if remaining <= available:
                return moment + pd.Timedelta(hours=remaining)
            remaining -= available
        moment = day + pd.Timedelta(days=1)
    raise ValueError("SLA deadline more than 400 days away")


def business_days_between(start: dt.date, end: dt.date, country: str = "US") -> int:
    """Business days after `start` up to and including `end` (dates or timestamps)."""
    start, end = pd.Timestamp(start).date(), pd.Timestamp(end).date()
    if end <= start:
        return 0
    days = pd.date_range(start + dt.timedelta(days=1), end, freq="D")
    return int(sum(is_business_day(d.date(), country) for d in days))


