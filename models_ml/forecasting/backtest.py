"""Rolling-origin backtests (Nixtla-style `cross_validation`) and accuracy metrics.

Every window trains on the history up to and including its cutoff and forecasts the `h` days after it; cutoffs
step back `step_size` days from the last possible one (the series' last date minus h), so the latest window's
targets end on the last day of history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from models_ml.forecasting.models import Forecaster, interval_columns

DAY = pd.Timedelta(days=1)


def cutoffs(last_date: pd.Timestamp, h: int, n_windows: int, step_size: int) -> list[pd.Timestamp]:
    """Training end dates, oldest first: last_date - h - step_size * k for k = n_windows-1 .. 0."""
    last = pd.Timestamp(last_date) - h * DAY
    return [last - step_size * k * DAY for k in range(n_windows - 1, -1, -1)]


def cross_validation(y: pd.Series, forecasters: dict[str, Callable[[], Forecaster]], h: int, n_windows: int,
                     step_size: int = 7, series_id: str = "total", levels=(80, 95),
                     min_train_days: int = 56) -> pd.DataFrame:
    """One row per series, model, cutoff and target date: actual, forecast, sd and interval bounds.

    `forecasters` maps a model name to a factory returning an unfitted forecaster. Each window's model sees only
    `y` up to its cutoff (the column `train_end` records the last training day; `date` is always later).
    """
    rows = []
    for cutoff in cutoffs(y.index[-1], h, n_windows, step_size):
        train = y[:cutoff]
        if len(train) < min_train_days:
            continue
        actual = y.reindex(pd.date_range(cutoff + DAY, periods=h, freq="D"))
        for name, make in forecasters.items():
            frame = make().fit(train).predict(h)
            frame.insert(0, "series_id", series_id)
            frame.insert(1, "model", name)
            frame.insert(2, "cutoff", cutoff)
            frame.insert(3, "train_end", train.index[-1])
            frame.insert(4, "horizon", np.arange(1, h + 1))
            frame["actual"] = actual.to_numpy()
            rows.append(frame[["series_id", "model", "cutoff", "train_end", "horizon", "date", "actual",
                               "forecast", "sd", *interval_columns(levels)]])
    if not rows:
        raise ValueError(f"series too short for a {n_windows}-window backtest with h={h}")
    return pd.concat(rows, ignore_index=True)


def seasonal_scale(y: pd.Series, cutoff: pd.Timestamp, season: int = 7, days: int = 365) -> float:
    """MASE denominator: mean absolute same-weekday-last-week change over the year before `cutoff`."""
    train = y[:cutoff].to_numpy(dtype=float)[-days:]
    if len(train) <= season:
        return float("nan")
    return float(np.mean(np.abs(train[season:] - train[:-season])))


def accuracy(cv: pd.DataFrame, y: pd.Series | dict[str, pd.Series], levels=(80, 95)) -> pd.DataFrame:
    """One row per series and model: WAPE, MASE, bias (share of actuals), interval coverage, windows, days."""
    series = y if isinstance(y, dict) else {sid: y for sid in cv["series_id"].unique()}
    frame = cv.copy()
    scales = {}
    for (sid, cutoff) in frame[["series_id", "cutoff"]].drop_duplicates().itertuples(index=False):
        scales[(sid, cutoff)] = seasonal_scale(series[sid], cutoff)
    frame["scale"] = [scales[k] for k in zip(frame["series_id"], frame["cutoff"], strict=True)]
    frame["abs_error"] = (frame["forecast"] - frame["actual"]).abs()
    rows = []
    for (sid, model), g in frame.groupby(["series_id", "model"], sort=False):
        total = g["actual"].sum()
        row = {
            "series_id": sid, "model": model,
            "wape": g["abs_error"].sum() / total if total else float("nan"),
            "mase": float((g["abs_error"] / g["scale"]).mean()),
            "bias": (g["forecast"] - g["actual"]).sum() / total if total else float("nan"),
        }
        for level in levels:
            inside = (g["actual"] >= g[f"lo_{level:g}"]) & (g["actual"] <= g[f"hi_{level:g}"])
            row[f"coverage_{level:g}"] = float(inside.mean())
        row["windows"] = g["cutoff"].nunique()
        row["days"] = len(g)
        rows.append(row)
    return pd.DataFrame(rows)


def weekly_accuracy(cv: pd.DataFrame, levels=(80, 95)) -> pd.DataFrame:
    """Coverage of weekly sums (days 1-7, 8-14, ... of each window) with normal bounds from the daily sds."""
    from scipy.stats import norm

    frame = cv[cv["horizon"] <= (cv["horizon"].max() // 7) * 7].copy()
    frame["week"] = (frame["horizon"] - 1) // 7
    frame["var"] = frame["sd"] ** 2
    weeks = frame.groupby(["series_id", "model", "cutoff", "week"], sort=False).agg(
        actual=("actual", "sum"), forecast=("forecast", "sum"), var=("var", "sum")).reset_index()
    rows = []
    for (sid, model), g in weeks.groupby(["series_id", "model"], sort=False):
        total = g["actual"].sum()
        row = {"series_id": sid, "model": model,
               "weekly_wape": (g["forecast"] - g["actual"]).abs().sum() / total if total else float("nan")}
        for level in levels:
            z = norm.ppf(0.5 + level / 200)
            half = z * np.sqrt(g["var"])
            row[f"weekly_coverage_{level:g}"] = float(((g["actual"] - g["forecast"]).abs() <= half).mean())
        rows.append(row)
    return pd.DataFrame(rows)
