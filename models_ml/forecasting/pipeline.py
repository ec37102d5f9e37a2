"""The forecasting step of `dunning build`, and the oracle comparison of `dunning evaluate`.

`run_cash_forecasts(con, as_of)` writes into schema `models`:
- cash_forecast: one row per series, model and target day for the next FORECAST_DAYS days (forecast_date =
  as_of); `business_day` numbers the target's business days 1, 2, ... (null on closed days);
- cash_forecast_weekly: one row per series and 7-day week for 13 weeks (the reconciled combination);
- forecast_backtest: one row per series, model, cutoff and target day of the rolling-origin backtest;
- forecast_accuracy: one row per series and model: WAPE, MASE, bias, 80 % / 95 % coverage (daily and weekly);
- ar_projection: expected closing AR at the next month end and quarter end;
- backlog_recovery: one row per day: expected recovery of today's failed-payment backlog, cumulative, with
  intervals;
- forecast_log: every forecast kept, this one and earlier builds' (one row per forecast date, series, model and
  target day; see log.py).
Everything but the log is a function of the warehouse and as_of (no clock, no unseeded randomness): the same
inputs give the same tables.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from models_ml.forecasting.backtest import accuracy, cross_validation, cutoffs, weekly_accuracy
from models_ml.forecasting.bottom_up import BottomUpEngine, load_book
from models_ml.forecasting.calendar import business_days
from models_ml.forecasting.ensemble import (
    CALIBRATION_H,
    MIN_TRAIN_DAYS,
    BottomUpForecaster,
    Combination,
    PointCache,
    inner_cutoffs,
)
from models_ml.forecasting.log import keep_forecasts
from models_ml.forecasting.models import CalendarRegression, MovingAverage, SeasonalNaive, interval_columns
from models_ml.io import read_frame, table_exists, write_table

log = logging.getLogger(__name__)
LEVELS = (80, 95)
HORIZON = 30  # backtest horizon (days)
N_WINDOWS = 12  # backtest origins, one week apart: the last 12 weeks' cutoffs, targets up to as_of
STEP = 7
CHILD_WINDOWS = 6  # fewer origins for the by-method / by-segment series (run time)
FORECAST_DAYS = 91  # 13 weeks, which also covers the next 30 business days
WEEKS = 13
WARMUP_DAYS = 30  # a book's first month has receipts from its first invoices only: left out of training
MIN_HISTORY_DAYS = 120
BACKLOG_DAYS = 60
BACKLOG_DRAWS = 4000
MODELS = ("seasonal_naive", "moving_average", "calendar_regression", "bottom_up", "combination")
METHODS = ("ach_debit", "card", "check", "other", "wire")
SEGMENTS = ("enterprise", "mid_market", "smb")
DAY = pd.Timedelta(days=1)


@dataclass
class ForecastRun:
    as_of: str
    history: dict[str, pd.Series]
    daily: pd.DataFrame
    weekly: pd.DataFrame
    backtest: pd.DataFrame
    accuracy: pd.DataFrame
    ar_projection: pd.DataFrame
    backlog: pd.DataFrame
    weights: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


def series_ids() -> list[str]:
    return ["total", *[f"payment_method:{m}" for m in METHODS], *[f"segment:{s}" for s in SEGMENTS]]


def load_cash_series(con, as_of: str) -> dict[str, pd.Series]:
    """Daily cash received (reporting currency, by effective date) per series id, complete days up to as_of."""
    frame = read_frame(con, """
        select effective_date as date, payment_method, segment,
               cast(sum(payment_amount_reporting) as double) as amount
        from marts.fct_payments
        where effective_date <= cast(? as date)
        group by all
        order by all
    """, [as_of])
    frame["date"] = pd.to_datetime(frame["date"])
    if frame.empty:
        raise ValueError(f"no payments up to {as_of}: nothing to forecast")
    start = frame["date"].min() + WARMUP_DAYS * DAY
    days = pd.date_range(start, pd.Timestamp(as_of), freq="D")
    if len(days) < MIN_HISTORY_DAYS:
        raise ValueError(f"{len(days)} days of cash history after the first month ({MIN_HISTORY_DAYS} needed)")
    out = {}
    for sid in series_ids():
        part = frame if sid == "total" else frame[frame[sid.split(":")[0]] == sid.split(":")[1]]
        out[sid] = part.groupby("date")["amount"].sum().reindex(days, fill_value=0.0).rename(sid)
    return out


def factories(engine: BottomUpEngine, series_id: str, cache: PointCache, risk=None) -> dict:
    return {
        "seasonal_naive": lambda: SeasonalNaive(LEVELS),
        "moving_average": lambda: MovingAverage(LEVELS),
        "calendar_regression": lambda: CalendarRegression(LEVELS),
        "bottom_up": lambda: BottomUpForecaster(engine, series_id, LEVELS, cache=cache, risk=risk),
        "combination": lambda: Combination(engine, series_id, LEVELS, cache=cache, risk=risk),
    }


def run_backtests(history: dict[str, pd.Series], engine: BottomUpEngine, cache: PointCache) -> pd.DataFrame:
    frames = []
    for sid, y in history.items():
        windows = N_WINDOWS if sid == "total" else CHILD_WINDOWS
        frames.append(cross_validation(y, factories(engine, sid, cache), HORIZON, windows, STEP, sid, LEVELS))
    return pd.concat(frames, ignore_index=True)


def bottom_up_keys(y: pd.Series, risk) -> list[tuple]:
    """Every (origin, days, risk) the backtests and today's forecast ask the bottom-up engine for: the backtest
    cutoffs and their calibration windows, today's calibration windows, and today's forecast with the risk scores.
    Computed up front in parallel (BottomUpEngine.precompute); a key missed here is computed when asked for."""
    days = max(HORIZON, CALIBRATION_H + 1)
    origins = set(inner_cutoffs(y))
    for cutoff in cutoffs(y.index[-1], HORIZON, N_WINDOWS, STEP):
        train = y[:cutoff]
        if len(train) >= MIN_TRAIN_DAYS:
            origins |= {cutoff, *inner_cutoffs(train)}
    return [(y.index[-1], max(FORECAST_DAYS, CALIBRATION_H + 1), risk), *((o, days, None) for o in sorted(origins))]


def read_risk(con) -> pd.DataFrame | None:
    if not table_exists(con, "models", "risk_scores"):
        return None
    return read_frame(con, "select invoice_id, p_not_recovered_30d from models.risk_scores order by invoice_id")


def forecast_now(history: dict[str, pd.Series], engine: BottomUpEngine, cache: PointCache, risk, as_of: str):
    """Every model's forecast for every series, plus the reconciled combination; and the combination weights."""
    frames, weights = [], {}
    for sid, y in history.items():
        for name, make in factories(engine, sid, cache, risk).items():
            model = make().fit(y)
            if name == "combination":
                weights[sid] = model.weight_
            frame = model.predict(FORECAST_DAYS)
            frame.insert(0, "series_id", sid)
            frame.insert(1, "model", name)
            frames.append(frame)
    daily = pd.concat(frames, ignore_index=True)
    daily = pd.concat([daily, reconcile(daily)], ignore_index=True)
    daily.insert(0, "forecast_date", pd.Timestamp(as_of))
    dates = pd.DatetimeIndex(sorted(daily["date"].unique()))
    is_open = business_days(dates, "US")
    number = pd.Series(np.where(is_open, np.cumsum(is_open), 0), index=dates)
    daily["horizon_days"] = ((daily["date"] - pd.Timestamp(as_of)) // DAY).astype(int)
    daily["business_day"] = daily["date"].map(number).replace(0, np.nan).astype("Int64")
    daily = daily.rename(columns={"date": "target_date"})
    cols = ["forecast_date", "series_id", "model", "target_date", "horizon_days", "business_day", "forecast", "sd",
            *interval_columns(LEVELS)]
    return daily[cols].sort_values(["series_id", "model", "target_date"]).reset_index(drop=True), weights


def reconcile(daily: pd.DataFrame) -> pd.DataFrame:
    """Scale each breakdown's combination forecasts so they add up to the total's (proportional, per day)."""
    comb = daily[daily["model"] == "combination"]
    total = comb[comb["series_id"] == "total"].set_index("date")
    out = [total.reset_index().assign(model="reconciled")]
    for dimension in ("payment_method", "segment"):
        part = comb[comb["series_id"].str.startswith(dimension + ":")].copy()
        if part.empty:
            continue
        sums = part.groupby("date")["forecast"].transform("sum")
        target = part["date"].map(total["forecast"])
        factor = np.where(sums > 0, target / sums.where(sums > 0, 1), 1.0)
        for col in ["forecast", "sd", *interval_columns(LEVELS)]:
            part[col] = part[col] * factor
        # A day the breakdown expects nothing but the total does: split the total by the breakdown's overall shares.
        empty = ((sums <= 0) & (target > 0)).to_numpy()
        if empty.any():
            overall = part.groupby("series_id")["forecast"].sum()
            weights = (overall / overall.sum() if overall.sum() > 0
                       else pd.Series(1 / len(overall), index=overall.index))
            w = part["series_id"].map(weights).to_numpy()
            for col in ["forecast", "sd", *interval_columns(LEVELS)]:
                values = part[col].to_numpy(dtype=float).copy()
                values[empty] = (w * part["date"].map(total[col]).to_numpy(dtype=float))[empty]
                part[col] = values
        out.append(part.assign(model="reconciled"))
    return pd.concat(out, ignore_index=True)[daily.columns]


def weekly_forecast(daily: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """13 weeks of 7 days from as_of+1: sums of the reconciled forecast, normal bounds from the daily sds."""
    rec = daily[daily["model"] == "reconciled"].copy()
    rec["week"] = (rec["horizon_days"] - 1) // 7 + 1
    rec = rec[rec["week"] <= WEEKS]
    rec["var"] = rec["sd"] ** 2
    weeks = rec.groupby(["series_id", "week"], as_index=False).agg(
        week_start=("target_date", "min"), week_end=("target_date", "max"), forecast=("forecast", "sum"),
        var=("var", "sum"))
    for level in LEVELS:
        half = norm.ppf(0.5 + level / 200) * np.sqrt(weeks["var"])
        weeks[f"lo_{level:g}"] = np.clip(weeks["forecast"] - half, 0, None)
        weeks[f"hi_{level:g}"] = weeks["forecast"] + half
    weeks.insert(0, "forecast_date", pd.Timestamp(as_of))
    return weeks.drop(columns="var").assign(model="reconciled")[
        ["forecast_date", "series_id", "model", "week", "week_start", "week_end", "forecast",
         *interval_columns(LEVELS)]]


def period_ends(as_of: pd.Timestamp) -> list[tuple[str, pd.Timestamp]]:
    """The next month end and quarter end strictly after as_of."""
    month_end = as_of + pd.offsets.MonthEnd(1)
    quarter_end = as_of + pd.offsets.QuarterEnd(1)
    return [("month_end", month_end), ("quarter_end", quarter_end)]


def ar_projection(con, engine: BottomUpEngine, daily: pd.DataFrame, backtest: pd.DataFrame, as_of: str):
    """Closing AR at the next month end and quarter end: open AR today + expected invoicing - expected cash
    (reconciled total) - expected write-offs. Bounds: the cash forecast's cumulative error in the backtest
    (normal, spread of the combination's 30-day sums, scaled by the square root of the days ahead)."""
    origin = pd.Timestamp(as_of)
    opening = float(read_frame(con, """
        select coalesce(sum(open_amount_reporting), 0) as ar from marts.fct_invoices where not is_void
    """)["ar"].iloc[0])
    comb = backtest[(backtest["series_id"] == "total") & (backtest["model"] == "combination")]
    sums = comb.groupby("cutoff")[["actual", "forecast"]].sum()
    rel_sd = float(((sums["actual"] - sums["forecast"]) / sums["forecast"]).std(ddof=1)) if len(sums) > 1 else 0.2
    total = daily[(daily["series_id"] == "total") & (daily["model"] == "reconciled")].set_index("target_date")
    rows = []
    for kind, end in period_ends(origin):
        days = int((end - origin) / DAY)
        billed = engine.projected_invoices(origin, days)
        invoicing = float(billed["amount"].sum())
        cash = float(total.loc[:end, "forecast"].sum()) if days <= FORECAST_DAYS else float("nan")
        write_offs = float(engine.expected_write_offs(origin, days).sum())
        closing = opening + invoicing - cash - write_offs
        row = {"forecast_date": origin, "target": kind, "target_date": end, "days_ahead": days,
               "opening_ar": round(opening, 2), "expected_invoicing": round(invoicing, 2),
               "expected_cash": round(cash, 2), "expected_write_offs": round(write_offs, 2),
               "closing_ar": round(closing, 2)}
        sd = rel_sd * cash * np.sqrt(days / HORIZON)
        for level in LEVELS:
            z = norm.ppf(0.5 + level / 200)
            row[f"lo_{level:g}"] = round(closing - z * sd, 2)
            row[f"hi_{level:g}"] = round(closing + z * sd, 2)
        rows.append(row)
    return pd.DataFrame(rows)


def backlog_recovery(con, engine: BottomUpEngine, risk, as_of: str) -> pd.DataFrame:
    """Expected recovery by day of today's failed-payment backlog (episodes still open), with Monte Carlo bounds
    on the cumulative amount (each item is recovered in full on one day or not at all; fixed seed)."""
    origin = pd.Timestamp(as_of)
    episodes = read_frame(con, """
        select invoice_id from marts.fct_failed_payment_episodes
        where episode_status in ('in_progress', 'abandoned') and open_amount > 0
        order by invoice_id
    """)
    items = engine.open_items(origin)
    items = items[items["invoice_id"].isin(set(episodes["invoice_id"]))].reset_index(drop=True)
    dates = pd.date_range(origin + DAY, periods=BACKLOG_DAYS, freq="D")
    columns = ["forecast_date", "target_date", "day", "backlog_items", "backlog_amount", "expected_recovered",
               "cumulative_expected", *[f"cumulative_{c}" for c in interval_columns(LEVELS)]]
    if items.empty:
        return pd.DataFrame(columns=columns)
    p30 = None
    if risk is not None:
        p30 = (1 - items["invoice_id"].map(risk.set_index("invoice_id")["p_not_recovered_30d"])).to_numpy(float)
    cash = engine.item_cash(origin, BACKLOG_DAYS, items, p_cash_30d=p30)
    balance = items["balance"].to_numpy()
    prob = cash / balance[:, None]
    rng = np.random.default_rng(0)
    cum = np.cumsum(prob, axis=1)
    u = rng.random((BACKLOG_DRAWS, len(items)))
    # Day index of recovery per draw and item (BACKLOG_DAYS = not within the window).
    day_of = np.stack([np.searchsorted(cum[i], u[:, i], side="right") for i in range(len(items))], axis=1)
    recovered = np.zeros((BACKLOG_DRAWS, BACKLOG_DAYS))
    for i in range(len(items)):
        hit = day_of[:, i] < BACKLOG_DAYS
        np.add.at(recovered, (np.flatnonzero(hit), day_of[hit, i]), balance[i])
    cumulative = np.cumsum(recovered, axis=1)
    frame = pd.DataFrame({"forecast_date": origin, "target_date": dates, "day": np.arange(1, BACKLOG_DAYS + 1),
                          "backlog_items": len(items), "backlog_amount": round(float(balance.sum()), 2),
                          "expected_recovered": cash.sum(axis=0), "cumulative_expected": cash.sum(axis=0).cumsum()})
    for level in LEVELS:
        a = (100 - level) / 200
        lo, hi = np.quantile(cumulative, [a, 1 - a], axis=0)
        frame[f"cumulative_lo_{level:g}"] = np.minimum(lo, frame["cumulative_expected"])
        frame[f"cumulative_hi_{level:g}"] = np.maximum(hi, frame["cumulative_expected"])
    return frame[columns]


def run_cash_forecasts(con, as_of: str, previous: Path | None = None, notes: list[str] | None = None) -> ForecastRun:
    """Backtest, forecast and project; write the models.* tables listed in the module docstring, and keep this
    forecast in models.forecast_log next to those of the `previous` warehouse (see log.keep_forecasts; why its
    log could not be carried over is appended to `notes`)."""
    started = time.perf_counter()
    history = load_cash_series(con, as_of)
    engine = BottomUpEngine(load_book(con, as_of))
    cache = PointCache()
    risk = read_risk(con)
    engine.precompute(bottom_up_keys(history["total"], risk))
    backtest = run_backtests(history, engine, cache)
    metrics = accuracy(backtest, history, LEVELS).merge(weekly_accuracy(backtest, LEVELS), on=["series_id", "model"])
    daily, weights = forecast_now(history, engine, cache, risk, as_of)
    weekly = weekly_forecast(daily, as_of)
    ar = ar_projection(con, engine, daily, backtest, as_of)
    backlog = backlog_recovery(con, engine, risk, as_of)
    metrics.insert(0, "forecast_date", pd.Timestamp(as_of))
    backtest = backtest.assign(forecast_date=pd.Timestamp(as_of))
    write_table(con, "models", "cash_forecast", _rounded(daily))
    write_table(con, "models", "cash_forecast_weekly", _rounded(weekly))
    write_table(con, "models", "forecast_backtest", _rounded(backtest.rename(columns={"date": "target_date"})))
    write_table(con, "models", "forecast_accuracy", _rounded(metrics, 6))
    write_table(con, "models", "ar_projection", ar)
    write_table(con, "models", "backlog_recovery", _rounded(backlog))
    problem = keep_forecasts(con, as_of, previous)
    if problem and notes is not None:
        notes.append(problem)
    seconds = time.perf_counter() - started
    log.info("cash forecasts as of %s in %.1f s", as_of, seconds)
    return ForecastRun(as_of, history, daily, weekly, backtest, metrics, ar, backlog, weights, seconds)


def _rounded(frame: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits)
    return out


def read_truth_cash(truth_dir: Path) -> pd.Series:
    for suffix in (".csv", ".parquet"):
        path = Path(truth_dir) / f"expected_cash_daily{suffix}"
        if path.exists():
            frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
            return frame.set_index(pd.to_datetime(frame["date"]))["expected_cash_reporting"].astype(float)
    raise FileNotFoundError(f"{truth_dir}: no expected_cash_daily file (is this a generated book's truth/ folder?)")


def compare_with_oracle(con, truth_dir: Path, as_of: str, write: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The total series' backtest with the oracle (truth/expected_cash_daily) as one more model.

    Evaluation only, never part of a build. Reads models.forecast_backtest; returns (accuracy table with an
    'oracle' row, backtest rows of the total with the oracle's). The oracle has no intervals (coverage NaN).
    With write=True (a writable connection) the oracle rows are added to models.forecast_accuracy.
    """
    if not table_exists(con, "models", "forecast_backtest"):
        raise ValueError("models.forecast_backtest is missing: build the warehouse with the forecasting step first")
    cv = read_frame(con, "select * from models.forecast_backtest where series_id = 'total' "
                         "order by model, cutoff, target_date").rename(columns={"target_date": "date"})
    for col in ("cutoff", "train_end", "date"):
        cv[col] = pd.to_datetime(cv[col])
    truth = read_truth_cash(truth_dir)
    oracle = cv[cv["model"] == "calendar_regression"].copy()
    oracle["model"] = "oracle"
    oracle["forecast"] = truth.reindex(oracle["date"]).to_numpy()
    for col in ["sd", *interval_columns(LEVELS)]:
        oracle[col] = np.nan
    both = pd.concat([cv, oracle], ignore_index=True)
    history = load_cash_series(con, as_of)
    table = accuracy(both, {"total": history["total"]}, LEVELS)
    for level in LEVELS:
        table.loc[table["model"] == "oracle", f"coverage_{level:g}"] = np.nan
    if write:
        stored = read_frame(con, "select * from models.forecast_accuracy")
        row = table[table["model"] == "oracle"].assign(forecast_date=pd.Timestamp(as_of))
        stored = pd.concat([stored[stored["model"] != "oracle"], row[[c for c in stored.columns if c in row]]],
                           ignore_index=True)
        write_table(con, "models", "forecast_accuracy", stored)
    return table, both
