"""Daily cash forecasters that share one contract.

    model = Forecaster(levels=(80, 95)).fit(y)      # y: float Series on a complete daily DatetimeIndex
    frame = model.predict(h)                         # one row per day after y's last date

`predict` returns `date, forecast, sd, lo_<l>, hi_<l>` for every level l: `forecast` is the expected amount,
`sd` the predictive standard deviation (used to add days up into weeks), the bounds are central prediction
intervals. Backtests, metrics and reports use only these frames, never a library's objects.

Intervals come from empirical residual quantiles on a square-root scale (cash is spiky and its spread grows
with its level), kept apart for business days and closed days; a forecaster fitted on a series with no negative
day never forecasts a negative amount.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from models_ml.forecasting.calendar import DAY_CLASSES, business_days, calendar_features, day_classes

DAY = pd.Timedelta(days=1)


def interval_columns(levels) -> list[str]:
    cols = []
    for level in levels:
        cols += [f"lo_{level:g}", f"hi_{level:g}"]
    return cols


def future_dates(y: pd.Series, h: int) -> pd.DatetimeIndex:
    return pd.date_range(y.index[-1] + DAY, periods=h, freq="D")


class SqrtScale:
    """y -> sqrt(y) for series without negative days; identity otherwise."""

    def __init__(self, nonnegative: bool):
        self.nonnegative = nonnegative

    def forward(self, y):
        return np.sqrt(np.clip(y, 0, None)) if self.nonnegative else np.asarray(y, dtype=float)

    def inverse(self, z):
        return np.square(np.clip(z, 0, None)) if self.nonnegative else np.asarray(z, dtype=float)


def residual_band(center: np.ndarray, residuals: dict[int, np.ndarray], classes: np.ndarray, scale: SqrtScale,
                  levels, mean: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Predictive mean, sd and quantiles of scale.inverse(center + r), r drawn from the day class's residuals.

    `mean` replaces the implied mean when the point forecast is made elsewhere (bottom-up, combination); the
    bounds then widen, if needed, to contain it.
    """
    n = len(center)
    out = {"forecast": np.zeros(n), "sd": np.zeros(n)}
    qs = {level: np.zeros((n, 2)) for level in levels}
    for day_class in DAY_CLASSES:
        rows = np.flatnonzero(classes == day_class)
        if rows.size == 0:
            continue
        r = residuals.get(day_class)
        if r is None or r.size < 5:
            r = np.concatenate([v for v in residuals.values() if v is not None])
        draws = scale.inverse(center[rows, None] + r[None, :])  # rows x residuals
        out["forecast"][rows] = draws.mean(axis=1)
        out["sd"][rows] = draws.std(axis=1)
        for level in levels:
            a = (100 - level) / 200
            qs[level][rows] = np.quantile(draws, [a, 1 - a], axis=1).T
    if mean is not None:
        out["forecast"] = np.asarray(mean, dtype=float)
    for level in levels:
        out[f"lo_{level:g}"] = np.minimum(qs[level][:, 0], out["forecast"])
        out[f"hi_{level:g}"] = np.maximum(qs[level][:, 1], out["forecast"])
    return out


def nest_intervals(frame: pd.DataFrame, levels) -> pd.DataFrame:
    """Make wider levels contain narrower ones: lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95."""
    lo = frame["forecast"].to_numpy().copy()
    hi = lo.copy()
    for level in sorted(levels):
        lo = np.minimum(lo, frame[f"lo_{level:g}"].to_numpy())
        hi = np.maximum(hi, frame[f"hi_{level:g}"].to_numpy())
        frame[f"lo_{level:g}"] = lo
        frame[f"hi_{level:g}"] = hi
    return frame


def band_frame(dates: pd.DatetimeIndex, band: dict, levels) -> pd.DataFrame:
    frame = pd.DataFrame({"date": dates, "forecast": band["forecast"], "sd": band["sd"]})
    for col in interval_columns(levels):
        frame[col] = band[col]
    return nest_intervals(frame, levels)


class Forecaster:
    """Base: parameters in __init__, learned state ends in `_`, fit(y) -> self, predict(h) -> frame."""

    name = "forecaster"

    def __init__(self, levels=(80, 95), country: str = "US"):
        self.levels = tuple(levels)
        self.country = country

    def fit(self, y: pd.Series) -> Forecaster:
        self.y_ = y
        self.scale_ = SqrtScale(bool((y >= 0).all()))
        return self

    def predict(self, h: int) -> pd.DataFrame:  # pragma: no cover - abstract
        raise NotImplementedError


class SeasonalNaive(Forecaster):
    """Same weekday last week; intervals from the history's k-weeks-ahead seasonal-naive errors."""

    name = "seasonal_naive"

    def __init__(self, levels=(80, 95), country: str = "US", season: int = 7, error_days: int = 365):
        super().__init__(levels, country)
        self.season = season
        self.error_days = error_days

    def predict(self, h: int) -> pd.DataFrame:
        y = self.y_.to_numpy(dtype=float)
        dates = future_dates(self.y_, h)
        s = self.season
        last = y[-s:] if len(y) >= s else np.resize(y, s)
        point = np.resize(last, h)
        frame = pd.DataFrame({"date": dates, "forecast": point})
        recent = y[-self.error_days:]
        sds = []
        bounds = {level: [] for level in self.levels}
        for j in range(h):
            lag = s * (j // s + 1)
            errors = recent[lag:] - recent[:-lag] if len(recent) > lag + 5 else recent - recent.mean()
            sds.append(errors.std())
            for level in self.levels:
                a = (100 - level) / 200
                bounds[level].append(np.quantile(errors, [a, 1 - a]))
        frame["sd"] = sds
        for level in self.levels:
            b = np.array(bounds[level])
            frame[f"lo_{level:g}"] = point + b[:, 0]
            frame[f"hi_{level:g}"] = point + b[:, 1]
        return _finish(frame, self.scale_.nonnegative, self.levels)


class MovingAverage(Forecaster):
    """Mean of the last `window` days, flat; intervals from the spread of the last `spread_days` days."""

    name = "moving_average"

    def __init__(self, levels=(80, 95), country: str = "US", window: int = 28, spread_days: int = 91):
        super().__init__(levels, country)
        self.window = window
        self.spread_days = spread_days

    def predict(self, h: int) -> pd.DataFrame:
        y = self.y_.to_numpy(dtype=float)
        level_now = y[-self.window:].mean()
        spread = y[-self.spread_days:] - y[-self.spread_days:].mean()
        frame = pd.DataFrame({"date": future_dates(self.y_, h), "forecast": np.full(h, level_now),
                              "sd": np.full(h, spread.std())})
        for level in self.levels:
            a = (100 - level) / 200
            lo, hi = np.quantile(spread, [a, 1 - a])
            frame[f"lo_{level:g}"] = level_now + lo
            frame[f"hi_{level:g}"] = level_now + hi
        return _finish(frame, self.scale_.nonnegative, self.levels)


class WeekdayProfile(Forecaster):
    """Short-history fallback: the mean of each weekday (holidays get the closed-day mean when lower);
    intervals from the empirical spread of each day around its weekday mean (ratios, pooled)."""

    name = "weekday_profile"

    def fit(self, y: pd.Series) -> WeekdayProfile:
        super().fit(y)
        weekday = y.index.dayofweek
        overall = float(y.mean())
        self.profile_ = np.array([float(y[weekday == k].mean()) if (weekday == k).any() else overall
                                  for k in range(7)])
        closed = ~business_days(y.index, self.country)
        self.closed_mean_ = float(y[closed].mean()) if closed.any() else overall
        base = self.profile_[weekday]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(np.abs(base) > 1e-9, y.to_numpy() / base, 1.0)
        self.ratios_ = ratio
        return self

    def predict(self, h: int) -> pd.DataFrame:
        dates = future_dates(self.y_, h)
        point = self.profile_[dates.dayofweek]
        holiday = calendar_features(dates, self.country)["holiday"].to_numpy() > 0
        point = np.where(holiday, np.minimum(point, self.closed_mean_), point)
        frame = pd.DataFrame({"date": dates, "forecast": point,
                              "sd": np.abs(point) * (self.ratios_.std() if len(self.ratios_) > 1 else 0.5)})
        for level in self.levels:
            a = (100 - level) / 200
            lo, hi = np.quantile(self.ratios_, [a, 1 - a]) if len(self.ratios_) > 1 else (0.5, 1.5)
            frame[f"lo_{level:g}"] = np.minimum(point * lo, point * hi)
            frame[f"hi_{level:g}"] = np.maximum(point * lo, point * hi)
        return _finish(frame, self.scale_.nonnegative, self.levels)


class CalendarRegression(Forecaster):
    """Regression of sqrt(cash) on calendar effects, recent days weighted more (exponential half-life).

    Effects: weekday, public holiday, catch-up after closed days, first / mid-month (15th) / last business day,
    quarter-end business day, first and last three days of the month, the 16th-17th and the 28th. Fitted by
    weighted least squares (statsmodels WLS); intervals from the weighted residual quantiles by day class.
    """

    name = "calendar_regression"

    def __init__(self, levels=(80, 95), country: str = "US", half_life_days: float = 365.0):
        super().__init__(levels, country)
        self.half_life_days = half_life_days

    def fit(self, y: pd.Series) -> CalendarRegression:
        import statsmodels.api as sm
        from statsmodels.tools.sm_exceptions import SingularMatrixWarning

        super().fit(y)
        features = calendar_features(y.index, self.country)
        self.columns_ = [c for c in features.columns if features[c].std() > 0]
        X = sm.add_constant(features[self.columns_].to_numpy(), has_constant="add")
        z = self.scale_.forward(y.to_numpy(dtype=float))
        age = np.arange(len(y))[::-1]
        weights = 0.5 ** (age / self.half_life_days)
        with warnings.catch_warnings():
            # Short series make some calendar effects collinear; the pseudo-inverse then gives the minimum-norm fit.
            warnings.simplefilter("ignore", category=SingularMatrixWarning)
            fit = sm.WLS(z, X, weights=weights).fit()
        self.params_ = fit.params
        resid = z - X @ fit.params
        classes = day_classes(y.index, self.country)
        recent = age < 2 * self.half_life_days
        self.residuals_ = {c: resid[(classes == c) & recent] for c in DAY_CLASSES}
        return self

    def center(self, dates: pd.DatetimeIndex) -> np.ndarray:
        import statsmodels.api as sm

        X = sm.add_constant(calendar_features(dates, self.country)[self.columns_].to_numpy(), has_constant="add")
        return X @ self.params_

    def predict(self, h: int) -> pd.DataFrame:
        dates = future_dates(self.y_, h)
        band = residual_band(self.center(dates), self.residuals_, day_classes(dates, self.country),
                             self.scale_, self.levels)
        return band_frame(dates, band, self.levels)


def _finish(frame: pd.DataFrame, nonnegative: bool, levels) -> pd.DataFrame:
    if nonnegative:
        for col in ["forecast", *interval_columns(levels)]:
            frame[col] = frame[col].clip(lower=0)
    return nest_intervals(frame, levels)
