"""Train, evaluate and score: the risk step of `dunning build`, and the oracle comparison of `dunning evaluate`."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from models_ml.io import write_table
from models_ml.risk import evaluate as ev
from models_ml.risk.features import CATEGORICAL, NUMERIC, build_features, training_snapshots
from models_ml.risk.model import MODEL_VERSION, RiskModel, make_logistic
from models_ml.risk.reasons import explain

log = logging.getLogger(__name__)
LABEL = "not_recovered_30d"
TEST_SNAPSHOTS = 3
MAX_TRAINING_ROWS = 200_000  # beyond this, a seeded sample: more rows add little and cost linear time


def cap_rows(frame: pd.DataFrame, seed: int, limit: int = MAX_TRAINING_ROWS) -> pd.DataFrame:
    """The frame itself, or a seeded random sample of `limit` rows (order kept) when it is larger."""
    if len(frame) <= limit:
        return frame
    return frame.sample(limit, random_state=seed).sort_index()


@dataclass
class RiskRun:
    scores: pd.DataFrame
    metrics: pd.DataFrame
    test_frame: pd.DataFrame
    model: RiskModel
    training_frame: pd.DataFrame


def split_by_time(frame: pd.DataFrame, test_snapshots: int = TEST_SNAPSHOTS):
    """Train on earlier snapshots, test on the latest `test_snapshots` ones (never shuffled)."""
    times = np.sort(frame["snapshot_date"].unique())
    cut = times[-test_snapshots - 1] if len(times) > test_snapshots + 1 else times[len(times) // 2]
    return frame[frame["snapshot_date"] <= cut], frame[frame["snapshot_date"] > cut]


def evaluate_models(train: pd.DataFrame, test: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, RiskModel]:
    """Metrics of the model, the logistic baseline and the two rule baselines on the held-out test period."""
    train = cap_rows(train, seed)
    test = cap_rows(test, seed)  # a seeded sample of a huge test period measures as well, in a fraction of the time
    model = RiskModel(NUMERIC, CATEGORICAL, random_state=seed).fit(train, LABEL)
    logistic = make_logistic(NUMERIC, CATEGORICAL).fit(train[CATEGORICAL + NUMERIC], train[LABEL])
    test = test.copy()
    test["p_model"] = model.predict_proba(test)
    test["p_logistic"] = logistic.predict_proba(test[CATEGORICAL + NUMERIC])[:, 1]
    test["p_rule_days_past_due"] = ev.days_past_due_rule().fit(train, LABEL).predict_proba(test)
    test["p_rule_decline_family"] = ev.decline_family_rule().fit(train, LABEL).predict_proba(test)
    rows = []
    for name in ("model", "logistic", "rule_days_past_due", "rule_decline_family"):
        rows.append({"scorer": name, **ev.score_metrics(test[LABEL], test[f"p_{name}"], test["exposure"])})
    return pd.DataFrame(rows), test, model


def train_evaluate_score(con, as_of: str, seed: int = 0) -> RiskRun:
    """Fit on every labelled snapshot, measure on a held-out later period, score today's open items.

    Writes models.risk_scores (one row per open item as of the day after `as_of`) and models.risk_evaluation.
    """
    snapshots = training_snapshots(con, as_of)
    score_date = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    frame = build_features(con, [*snapshots, score_date], as_of)
    labelled = frame[frame[LABEL].notna() & (frame["snapshot_date"] < score_date)].copy()
    labelled[LABEL] = labelled[LABEL].astype(int)
    if len(snapshots) < 3 or labelled[LABEL].nunique() < 2:
        raise ValueError(f"not enough history to train the risk model as of {as_of}: "
                         f"{len(snapshots)} month(s) with a closed 30-day outcome window (3 needed)")
    train, test = split_by_time(labelled)
    metrics, test_scored, _ = evaluate_models(train, test, seed)
    final = RiskModel(NUMERIC, CATEGORICAL, random_state=seed).fit(cap_rows(labelled, seed), LABEL)
    today = frame[frame["snapshot_date"] == score_date].copy()
    scores = score_items(final, today, as_of)
    write_table(con, "models", "risk_scores", scores)
    metrics.insert(0, "as_of_date", pd.Timestamp(as_of).date())
    metrics.insert(1, "model_version", MODEL_VERSION)
    write_table(con, "models", "risk_evaluation", metrics)
    return RiskRun(scores, metrics, test_scored, final, labelled)


def score_items(model: RiskModel, today: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """One row per open item: probability, exposure, expected loss and three plain-word reasons."""
    if today.empty:
        return pd.DataFrame(columns=["model_version", "as_of_date", "invoice_id", "account_id", "item_type",
                                     "p_not_recovered_30d", "exposure", "expected_loss",
                                     "reason_1", "reason_2", "reason_3"])
    p = model.predict_proba(today)
    reasons = explain(model, today)
    return pd.DataFrame({
        "model_version": MODEL_VERSION,
        "as_of_date": pd.Timestamp(as_of).date(),
        "invoice_id": today["invoice_id"].to_numpy(),
        "account_id": today["account_id"].to_numpy(),
        "item_type": today["item_type"].to_numpy(),
        "p_not_recovered_30d": np.round(p, 6),
        "exposure": today["exposure"].round(2).to_numpy(),
        "expected_loss": np.round(p * today["exposure"].to_numpy(), 2),
        "reason_1": reasons["reason_1"].to_numpy(),
        "reason_2": reasons["reason_2"].to_numpy(),
        "reason_3": reasons["reason_3"].to_numpy(),
    }).sort_values(["expected_loss", "invoice_id"], ascending=[False, True]).reset_index(drop=True)


def compare_with_oracle(con, truth_dir: Path, as_of: str, seed: int = 0,
                        test_scored: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held-out comparison plus the oracle (truth/ probabilities). Evaluation only: never part of a build.

    `test_scored` is the held-out frame of a build's risk step (RiskRun.test_frame) with the same seed and as-of
    date: the same rows and scores this function would compute, so they are not computed twice.
    """
    if test_scored is None:
        snapshots = training_snapshots(con, as_of)
        frame = build_features(con, snapshots, as_of)
        frame = frame[frame[LABEL].notna()].copy()
        frame[LABEL] = frame[LABEL].astype(int)
        train, test = split_by_time(frame)
        _, test_scored, _ = evaluate_models(train, test, seed)
    truth = read_truth(truth_dir)
    # Truth is stated at month end; our snapshot is the start of the next day.
    truth["snapshot_date"] = pd.to_datetime(truth["snapshot_date"]) + pd.Timedelta(days=1)
    joined = test_scored.merge(truth[["invoice_id", "snapshot_date", "p_not_paid_30d"]],
                               on=["invoice_id", "snapshot_date"], how="left")
    covered = joined["p_not_paid_30d"].notna()
    rows = []
    for name in ("model", "logistic", "rule_days_past_due", "rule_decline_family"):
        rows.append({"scorer": name, **ev.score_metrics(joined.loc[covered, LABEL],
                                                        joined.loc[covered, f"p_{name}"],
                                                        joined.loc[covered, "exposure"])})
    rows.append({"scorer": "oracle", **ev.score_metrics(joined.loc[covered, LABEL],
                                                        joined.loc[covered, "p_not_paid_30d"],
                                                        joined.loc[covered, "exposure"])})
    table = pd.DataFrame(rows)
    table["truth_coverage"] = covered.mean()
    return table, joined[covered]


def read_truth(truth_dir: Path) -> pd.DataFrame:
    for suffix in (".csv", ".parquet"):
        path = Path(truth_dir) / f"invoice_snapshots{suffix}"
        if path.exists():
            return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    raise FileNotFoundError(f"{truth_dir}: no invoice_snapshots file (is this a generated book's truth/ folder?)")


def metrics_json(table: pd.DataFrame) -> str:
    return json.dumps({r["scorer"]: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()
                                     if k != "scorer"} for r in table.to_dict("records")}, default=str)

