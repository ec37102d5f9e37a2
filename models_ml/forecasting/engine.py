"""The public engine: `forecast_daily_cash(series, horizon_days)` for any daily cash series."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models_ml.forecasting.models import CalendarRegression, Forecaster, WeekdayProfile, interval_columns

MIN_REGRESSION_DAYS = 56  # 8 weeks: below this the weekday-profile fallback is used


def prepare_series(series: pd.Series) -> pd.Series:
    """A float Series on a complete daily DatetimeIndex (missing days inside the range become 0).

    Raises ValueError for: not a Series, empty, non-numeric values, dates that cannot be read, times of day,
    duplicate dates, or spacing that is not daily (most consecutive dates more than one day apart).
    """
    if not isinstance(series, pd.Series):
        raise ValueError("series must be a pandas Series of daily amounts indexed by date, "
                         f"got {type(series).__name__}")
    if len(series) == 0:
        raise ValueError("series is empty: at least one day of history is needed")
    if not (pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)):
        raise ValueError(f"series must hold numbers (amounts per day), got dtype {series.dtype}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # format inference notes on string dates
            index = pd.DatetimeIndex(pd.to_datetime(series.index))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"series index must be dates (a DatetimeIndex or date-like values): {exc}") from None
    if index.tz is not None:
        index = index.tz_localize(None)
    if index.hasnans:
        raise ValueError("series index has missing dates (NaT)")
    if (index != index.normalize()).any():
        raise ValueError("series must be daily: its index has times of day (aggregate to one amount per date first)")
    if index.has_duplicates:
        dupes = index[index.duplicated()].unique()[:3]
        raise ValueError(f"series has duplicate dates (e.g. {', '.join(str(d.date()) for d in dupes)}): "
                         "give one amount per day (sum them first if they are separate receipts)")
    values = pd.Series(series.to_numpy(dtype=float), index=index).sort_index()
    if not np.isfinite(values.fillna(0).to_numpy()).all():
        raise ValueError("series has infinite values")
    if len(values) > 1:
        gaps = np.diff(values.index.to_numpy()).astype("timedelta64[D]").astype(int)
        if np.median(gaps) > 1:
            raise ValueError(f"series is not daily: dates are typically {int(np.median(gaps))} days apart "
                             "(weekly or monthly data cannot be forecast per day)")
    full = pd.date_range(values.index[0], values.index[-1], freq="D")
    return values.reindex(full).fillna(0.0).rename(series.name)


def choose_forecaster(n_days: int, levels=(80, 95), country: str = "US") -> Forecaster:
    """The calendar regression from 8 weeks of history on; the weekday profile for shorter series."""
    if n_days < MIN_REGRESSION_DAYS:
        return WeekdayProfile(levels=levels, country=country)
    return CalendarRegression(levels=levels, country=country)


def check_levels(levels) -> tuple:
    levels = tuple(levels)
    if not levels or any(not (0 < float(level) < 100) for level in levels):
        raise ValueError(f"levels must be percentages between 0 and 100, got {levels!r}")
    return levels


def forecast_daily_cash(series: pd.Series, horizon_days: int, levels=(80, 95), country: str = "US") -> pd.DataFrame:
    """Forecast a daily cash series `horizon_days` days past its last date.

    series: amounts per day indexed by date (DatetimeIndex or date-like values), e.g. a bank's deposit history.
    Days missing inside the range count as zero receipts (and NaN amounts as zero); duplicate dates, an empty
    series, non-numeric values and non-daily spacing raise ValueError. From 8 weeks of history the model is a
    regression of sqrt(amount) on weekday, payday (1st / 15th / last business day), month-end, quarter-end and
    public-holiday effects (`country`, default US, via the `holidays` package); shorter series use a weekday
    profile with empirical intervals. Forecasts are never negative when the history has no negative day.

    Returns one row per day after the series' last date: `date, forecast, lo_<l>, hi_<l>` for each level l
    (default `date, forecast, lo_80, hi_80, lo_95, hi_95`), with lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95.
    """
    if isinstance(horizon_days, bool) or not isinstance(horizon_days, int | np.integer) or horizon_days < 1:
        raise ValueError(f"horizon_days must be a whole number of days >= 1, got {horizon_days!r}")
    levels = check_levels(levels)
    y = prepare_series(series)
    model = choose_forecaster(len(y), levels, country).fit(y)
    frame = model.predict(int(horizon_days))
    return frame[["date", "forecast", *interval_columns(levels)]].reset_index(drop=True)
