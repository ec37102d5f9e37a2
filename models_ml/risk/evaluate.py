"""Honest measurement of risk scores: discrimination, calibration and worklist value, next to baselines."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate - mean prediction| over equal-width probability bins, weighted by bin size."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return total / len(y)


def top_share_captured(y: np.ndarray, score: np.ndarray, exposure: np.ndarray, share: float = 0.10) -> float:
    """Share of the amount that was in fact not recovered found in the top `share` of items ranked by
    expected loss (score x exposure) — what a collector working the top of the list would reach."""
    y, score, exposure = (np.asarray(a, float) for a in (y, score, exposure))
    at_risk = y * exposure
    if at_risk.sum() == 0:
        return float("nan")
    order = np.argsort(-(score * exposure), kind="stable")
    top = order[: max(1, int(round(len(order) * share)))]
    return float(at_risk[top].sum() / at_risk.sum())


def score_metrics(y, p, exposure) -> dict:
    y = np.asarray(y, int)
    p = np.clip(np.asarray(p, float), 0, 1)
    return {
        "roc_auc": roc_auc_score(y, p),
        "pr_auc": average_precision_score(y, p),
        "brier": brier_score_loss(y, p),
        "ece": expected_calibration_error(y, p),
        "top10_capture": top_share_captured(y, p, exposure),
        "mean_p": float(p.mean()),
        "observed_rate": float(y.mean()),
        "items": int(len(y)),
    }


def calibration_points(y, p, bins: int = 10) -> pd.DataFrame:
    observed, predicted = calibration_curve(y, p, n_bins=bins, strategy="quantile")
    return pd.DataFrame({"predicted": predicted, "observed": observed})


def dpd_bucket(days_past_due: pd.Series) -> pd.Series:
    return pd.cut(days_past_due, [-10_000, 0, 30, 60, 90, 120, 10_000],
                  labels=["current", "1-30", "31-60", "61-90", "91-120", "120+"]).astype(str)


class RateTable:
    """A rule baseline: the training non-recovery rate of each group, used as the probability."""

    def __init__(self, keys):
        self.keys = keys

    def fit(self, frame: pd.DataFrame, label: str) -> RateTable:
        self.rates_ = frame.groupby(self._groups(frame))[label].mean()
        self.prior_ = frame[label].mean()
        return self

    def _groups(self, frame):
        return [self.keys(frame)] if callable(self.keys) else [frame[k] for k in self.keys]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        index = pd.MultiIndex.from_arrays(self._groups(frame)) if not callable(self.keys) else self.keys(frame)
        return self.rates_.reindex(index).fillna(self.prior_).to_numpy()


def days_past_due_rule() -> RateTable:
    return RateTable(lambda f: dpd_bucket(f["days_past_due"]).rename("bucket"))


def decline_family_rule() -> RateTable:
    return RateTable(["item_type", "decline_family"])
