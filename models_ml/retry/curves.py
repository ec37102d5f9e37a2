"""Recovery curves: the chance an automatic reattempt succeeds, learned from the warehouse's own history.

A logistic regression whose effects are interacted with the decline family, so each family gets its own curve:
time since the failure (capped at two weeks, plus a first-day flag), the attempt number, the local time of day
(before, during or after the working day in the close timezone), weekday vs weekend, and payday proximity (the
1st-2nd, the 15th-16th and the last two days of the month). Few, interpretable effects: they are learnable from
a few thousand retries and extrapolate sanely to times the old schedule never tried.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from models_ml.io import read_frame

CLOSE_TIMEZONE = "America/New_York"
WORKDAY_HOURS = (9, 17)
MAX_HISTORY_ROWS = 250_000  # beyond this, a seeded sample: ~60 coefficients need far fewer rows, fits cost linear time


def calendar_features(at: pd.Series, timezone: str = CLOSE_TIMEZONE) -> pd.DataFrame:
    """Calendar columns of naive-UTC timestamps, judged in the close timezone."""
    local = pd.to_datetime(at).dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)
    dom = local.dt.day
    days_in_month = local.dt.days_in_month
    hour = local.dt.hour
    return pd.DataFrame({
        "local_hour": hour.astype(float),
        "is_workday_hours": ((hour >= WORKDAY_HOURS[0]) & (hour < WORKDAY_HOURS[1])).astype(float),
        "is_before_workday": (hour < WORKDAY_HOURS[0]).astype(float),
        "is_weekday": (local.dt.weekday < 5).astype(float),
        "is_payday": ((dom <= 2) | dom.isin([15, 16]) | (dom >= days_in_month - 1)).astype(float),
    }, index=at.index)


def design_matrix(frame: pd.DataFrame, families: list[str]) -> pd.DataFrame:
    """Family dummies and every timing effect interacted with them."""
    effects = pd.DataFrame({
        "days": np.minimum(frame["hours_since_failure"] / 24, 14),
        "first_day": (frame["hours_since_failure"] < 24).astype(float),
        "retry_number": frame["retry_number"].astype(float),
        "workday_hours": frame["is_workday_hours"],
        "before_workday": frame["is_before_workday"],
        "weekday": frame["is_weekday"],
        "payday": frame["is_payday"],
    }, index=frame.index)
    columns = {}
    for family in families:
        member = (frame["decline_family"] == family).astype(float)
        columns[f"{family}"] = member
        for name in effects.columns:
            columns[f"{family}:{name}"] = member * effects[name]
    return pd.DataFrame(columns, index=frame.index)


def reattempt_history(con, before: str | None = None) -> pd.DataFrame:
    """Every automatic reattempt on a failed invoice (before a date, optionally), with its outcome.

    Ties on the attempt time are broken by attempt id and the rows come in a fixed order: the fitted curves, and so
    the recommendations, are the same on every run (they were not, at 100,000 accounts)."""
    where = f"and r.attempted_at < timestamp '{before}'" if before else ""
    frame = read_frame(con, f"""
        with first_failures as (
            select invoice_id, min(attempted_at) as failed_at,
                   arg_min(decline_family, (attempted_at, attempt_id)) as decline_family
            from marts.fct_payment_attempts
            where is_failed and not is_customer_initiated and invoice_id is not null
            group by invoice_id
        )
        select f.decline_family, r.attempt_method, r.attempted_at,
               date_diff('minute', f.failed_at, r.attempted_at) / 60.0 as hours_since_failure,
               row_number() over (partition by r.invoice_id order by r.attempted_at, r.attempt_id) as retry_number,
               case when r.is_failed then 0 else 1 end as succeeded
        from marts.fct_payment_attempts as r
        inner join first_failures as f on f.invoice_id = r.invoice_id and r.attempted_at > f.failed_at
        where not r.is_customer_initiated and r.outcome <> 'pending' {where}
        order by r.invoice_id, r.attempted_at, r.attempt_id
    """)
    return frame.join(calendar_features(frame["attempted_at"]))


class RecoveryCurves:
    """P(reattempt succeeds | family, timing): a family-interacted logistic regression on reattempt history."""

    def __init__(self, regularisation: float = 1.0, max_rows: int = MAX_HISTORY_ROWS, seed: int = 0):
        self.regularisation = regularisation
        self.max_rows = max_rows
        self.seed = seed

    def fit(self, history: pd.DataFrame) -> RecoveryCurves:
        if history["succeeded"].nunique() < 2:
            raise ValueError("not enough retry history to learn recovery curves (need successes and failures)")
        if len(history) > self.max_rows:  # seeded, order kept: the same curves on every run
            history = history.sample(self.max_rows, random_state=self.seed).sort_index()
        self.families_ = sorted(history["decline_family"].unique())
        X = design_matrix(history, self.families_)
        self.model_ = LogisticRegression(C=self.regularisation, max_iter=5000).fit(X, history["succeeded"])
        self.base_rate_ = float(history["succeeded"].mean())
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        known = frame["decline_family"].isin(self.families_).to_numpy()
        p = np.full(len(frame), self.base_rate_)
        if known.any():
            p[known] = self.model_.predict_proba(design_matrix(frame[known], self.families_))[:, 1]
        return p
