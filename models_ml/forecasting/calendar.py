"""Calendar regressors of daily cash: weekday, business days, holidays, paydays, month and quarter end.

One row per calendar day. A business day is Monday-Friday and not a public holiday of `country` (the `holidays`
package). Payday days are the first business day of the month, the first business day on or after the 15th (the
mid-month accounts-payable run) and the last business day of the month.
"""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np
import pandas as pd

FEATURES = [
    "wd_mon", "wd_tue", "wd_wed", "wd_thu", "wd_fri", "wd_sat",
    "holiday", "catchup", "first_bday", "mid_bday", "last_bday", "quarter_end_bday",
    "first_3_days", "last_3_days", "day_16_17", "day_28",
]
PAD_DAYS = 45  # month structure (last business day, ...) needs a little calendar either side


def business_days(dates: pd.DatetimeIndex, country: str = "US") -> np.ndarray:
    """True where the day is Monday-Friday and not a public holiday of `country`."""
    dates = pd.DatetimeIndex(dates)
    if len(dates) == 0:
        return np.zeros(0, dtype=bool)
    values, rows = _rows(dates, country)
    return values[rows, -1] > 0


CLOSED, BUSINESS_DAY, RUN_DAY = 0, 1, 2  # day classes whose forecast errors differ in kind
DAY_CLASSES = (CLOSED, BUSINESS_DAY, RUN_DAY)


def day_classes(dates: pd.DatetimeIndex, country: str = "US") -> np.ndarray:
    """Per date: CLOSED (weekend or public holiday), RUN_DAY (the mid-month or last business day: paydays and
    accounts-payable runs, where large payments bunch) or BUSINESS_DAY."""
    features = calendar_features(dates, country)
    runs = ((features["mid_bday"] + features["last_bday"]) > 0).to_numpy()
    return np.where(~business_days(dates, country), CLOSED, np.where(runs, RUN_DAY, BUSINESS_DAY))


def calendar_features(dates: pd.DatetimeIndex, country: str = "US") -> pd.DataFrame:
    """One row per date of `dates` (same order), float columns FEATURES."""
    dates = pd.DatetimeIndex(dates)
    values, rows = _rows(dates, country)
    return pd.DataFrame(values[rows, :-1], index=dates, columns=FEATURES)


def _rows(dates: pd.DatetimeIndex, country: str) -> tuple[np.ndarray, np.ndarray]:
    """The cached calendar as floats (FEATURES, then bday) and the row of each date in it."""
    # Whole years (one either side), so that the cache is hit by every window of a backtest.
    start, values = _calendar_values(f"{dates.min().year - 1}-01-01", f"{dates.max().year + 1}-12-31", country)
    rows = (dates.normalize() - start).days.to_numpy()
    return values, rows


@lru_cache(maxsize=64)
def _calendar_values(first: str, last: str, country: str) -> tuple[pd.Timestamp, np.ndarray]:
    # Converted once: backtests ask for features hundreds of times.
    frame = _calendar(first, last, country)
    values = frame[[*FEATURES, "bday"]].to_numpy(dtype=float)
    values.setflags(write=False)
    return frame.index[0], values


def _calendar(first: str, last: str, country: str) -> pd.DataFrame:
    days = pd.date_range(pd.Timestamp(first) - pd.Timedelta(days=PAD_DAYS),
                         pd.Timestamp(last) + pd.Timedelta(days=PAD_DAYS), freq="D")
    try:
        public = holidays.country_holidays(country, years=range(days[0].year, days[-1].year + 1))
    except NotImplementedError:
        raise ValueError(f"country {country!r} is not known to the holidays package "
                         "(use an ISO code such as 'US', 'GB', 'DE')") from None
    is_holiday = days.isin(pd.DatetimeIndex(sorted(public.keys())))
    weekday = days.dayofweek.to_numpy()
    bday = (weekday < 5) & ~is_holiday
    # Consecutive closed days just before a business day: receipts held over a weekend or holiday land then.
    closed_run = np.zeros(len(days), dtype=int)
    run = 0
    for i, is_open in enumerate(bday):
        closed_run[i] = run if is_open else 0
        run = 0 if is_open else run + 1
    month = days.year * 12 + days.month
    open_days = pd.DataFrame({"day": days[bday], "month": month[bday], "dom": days[bday].day})
    by_month = open_days.groupby("month")["day"]
    first_b = set(by_month.min())
    last_b = set(by_month.max())
    mid_b = set(open_days[open_days["dom"] >= 15].groupby("month")["day"].min())
    quarter_end = {d for d in last_b if d.month % 3 == 0}
    dom = days.day.to_numpy()
    dim = days.days_in_month.to_numpy()
    frame = pd.DataFrame(index=days)
    for k, name in enumerate(FEATURES[:6]):
        frame[name] = weekday == k
    frame["holiday"] = is_holiday & (weekday < 5)
    frame["catchup"] = np.minimum(closed_run, 4)
    frame["first_bday"] = days.isin(list(first_b))
    frame["mid_bday"] = days.isin(list(mid_b))
    frame["last_bday"] = days.isin(list(last_b))
    frame["quarter_end_bday"] = days.isin(list(quarter_end))
    frame["first_3_days"] = dom <= 3
    frame["last_3_days"] = dom >= dim - 2
    frame["day_16_17"] = (dom == 16) | (dom == 17)
    frame["day_28"] = dom == 28
    frame["bday"] = bday
    return frame
