"""The bottom-up forecast and the combination under the shared forecaster contract.

Neither has in-sample residuals, so both learn their intervals (and the combination its weight) from inner
rolling-origin windows that end inside their own training history: a window at cutoff c uses only y up to c.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from models_ml.forecasting.bottom_up import BottomUpEngine
from models_ml.forecasting.calendar import business_days
from models_ml.forecasting.models import DAY, CalendarRegression, Forecaster, band_frame, residual_band

CALIBRATION_WINDOWS = 8
CALIBRATION_STEP = 7
CALIBRATION_H = 30
MIN_TRAIN_DAYS = 56
WEIGHT_GRID = np.round(np.linspace(0, 1, 11), 2)


def select_series(frame: pd.DataFrame, series_id: str) -> pd.DataFrame:
    """Rows of an expected-cash frame that belong to `series_id` ('total', 'segment:smb', 'payment_method:card')."""
    if series_id == "total":
        return frame
    column, value = series_id.split(":", 1)
    return frame[frame[column] == value]


def inner_cutoffs(y: pd.Series, n: int | None = None, step: int = CALIBRATION_STEP,
                  h: int = CALIBRATION_H) -> list[pd.Timestamp]:
    """Cutoffs whose h-day targets end on or before y's last date, each with MIN_TRAIN_DAYS of history."""
    n = CALIBRATION_WINDOWS if n is None else n
    last = y.index[-1] - h * DAY
    out = [last - step * k * DAY for k in range(n - 1, -1, -1)]
    return [c for c in out if c >= y.index[0] + (MIN_TRAIN_DAYS - 1) * DAY]


def sqrt_residuals(forecast: np.ndarray, actual: np.ndarray, is_bday: np.ndarray) -> dict[bool, np.ndarray]:
    r = np.sqrt(np.clip(actual, 0, None)) - np.sqrt(np.clip(forecast, 0, None))
    return {c: r[is_bday == c] for c in (True, False)}


class PointCache:
    """Point forecasts by (model, series, cutoff) shared across windows, so refits are not repeated."""

    def __init__(self):
        self.values: dict[tuple, np.ndarray] = {}

    def get(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self.values:
            self.values[key] = make()
        return self.values[key]


class BottomUpForecaster(Forecaster):
    """Expected cash from open items and new billing at the training cutoff (see bottom_up)."""

    name = "bottom_up"

    def __init__(self, engine: BottomUpEngine, series_id: str = "total", levels=(80, 95), country: str = "US",
                 cache: PointCache | None = None, risk: pd.DataFrame | None = None):
        super().__init__(levels, country)
        self.engine = engine
        self.series_id = series_id
        self.cache = cache or PointCache()
        self.risk = risk

    def point(self, origin: pd.Timestamp, h: int, risk: pd.DataFrame | None = None) -> np.ndarray:
        def make():
            frame = select_series(self.engine.expected_cash(origin, max(h, CALIBRATION_H + 1), risk),
                                  self.series_id)
            daily = frame.groupby("date")["amount"].sum()
            return daily.reindex(pd.date_range(origin + DAY, periods=max(h, CALIBRATION_H + 1)),
                                 fill_value=0.0).to_numpy()

        key = ("bottom_up", self.series_id, origin, max(h, CALIBRATION_H + 1), risk is not None)
        return self.cache.get(key, make)[:h]

    def fit(self, y: pd.Series) -> BottomUpForecaster:
        super().fit(y)
        forecasts, actuals, dates = [], [], []
        for cutoff in inner_cutoffs(y):
            target = pd.date_range(cutoff + DAY, periods=CALIBRATION_H)
            forecasts.append(self.point(cutoff, CALIBRATION_H))
            actuals.append(y.reindex(target).to_numpy())
            dates.append(target)
        self.residuals_ = _residuals(forecasts, actuals, dates, self.country)
        return self

    def predict(self, h: int) -> pd.DataFrame:
        origin = self.y_.index[-1]
        point = self.point(origin, h, self.risk)
        dates = pd.date_range(origin + DAY, periods=h)
        band = residual_band(np.sqrt(np.clip(point, 0, None)), self.residuals_, business_days(dates, self.country),
                             self.scale_, self.levels, mean=point)
        return band_frame(dates, band, self.levels)


class Combination(Forecaster):
    """w x calendar regression + (1 - w) x bottom-up; w minimises WAPE on the inner windows."""

    name = "combination"

    def __init__(self, engine: BottomUpEngine, series_id: str = "total", levels=(80, 95), country: str = "US",
                 cache: PointCache | None = None, risk: pd.DataFrame | None = None):
        super().__init__(levels, country)
        self.engine = engine
        self.series_id = series_id
        self.cache = cache or PointCache()
        self.risk = risk

    def regression_point(self, y: pd.Series, cutoff: pd.Timestamp, h: int) -> np.ndarray:
        def make():
            return CalendarRegression(self.levels, self.country).fit(y[:cutoff]).predict(h)["forecast"].to_numpy()

        return self.cache.get(("calendar_regression", self.series_id, cutoff, h), make)

    def fit(self, y: pd.Series) -> Combination:
        super().fit(y)
        self.bottom_up_ = BottomUpForecaster(self.engine, self.series_id, self.levels, self.country, self.cache,
                                             self.risk)
        self.bottom_up_.y_ = y
        self.bottom_up_.scale_ = self.scale_
        ts, bu, actuals, dates = [], [], [], []
        for cutoff in inner_cutoffs(y):
            target = pd.date_range(cutoff + DAY, periods=CALIBRATION_H)
            ts.append(self.regression_point(y, cutoff, CALIBRATION_H))
            bu.append(self.bottom_up_.point(cutoff, CALIBRATION_H))
            actuals.append(y.reindex(target).to_numpy())
            dates.append(target)
        if ts:
            t, b, a = np.concatenate(ts), np.concatenate(bu), np.concatenate(actuals)
            scores = [np.abs(w * t + (1 - w) * b - a).sum() for w in WEIGHT_GRID]
            self.weight_ = float(WEIGHT_GRID[int(np.argmin(scores))])
            combined = [self.weight_ * ti + (1 - self.weight_) * bi for ti, bi in zip(ts, bu, strict=True)]
        else:
            self.weight_, combined = 1.0, []
        self.residuals_ = _residuals(combined, actuals, dates, self.country)
        self.regression_ = CalendarRegression(self.levels, self.country).fit(y)
        if not combined:
            self.residuals_ = self.regression_.residuals_
        return self

    def predict(self, h: int) -> pd.DataFrame:
        origin = self.y_.index[-1]
        dates = pd.date_range(origin + DAY, periods=h)
        point = (self.weight_ * self.regression_.predict(h)["forecast"].to_numpy()
                 + (1 - self.weight_) * self.bottom_up_.point(origin, h, self.risk))
        band = residual_band(np.sqrt(np.clip(point, 0, None)), self.residuals_, business_days(dates, self.country),
                             self.scale_, self.levels, mean=point)
        return band_frame(dates, band, self.levels)


def _residuals(forecasts, actuals, dates, country) -> dict[bool, np.ndarray]:
    if not forecasts:
        return {True: np.zeros(1), False: np.zeros(1)}
    d = pd.DatetimeIndex(np.concatenate([np.asarray(x) for x in dates]))
    return sqrt_residuals(np.concatenate(forecasts), np.concatenate(actuals), business_days(d, country))
