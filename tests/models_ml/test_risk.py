"""Risk scoring on the session's small built book: no leakage, calibration, determinism, reasons, the oracle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models_ml.io import connect
from models_ml.risk import evaluate as ev
from models_ml.risk import reasons as reasons_module
from models_ml.risk.features import CATEGORICAL, NUMERIC, build_features, training_snapshots
from models_ml.risk.reasons import REASON_GROUPS, explain
from models_ml.risk.train import LABEL, compare_with_oracle, train_evaluate_score

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def book(built_warehouse):
    con = connect(built_warehouse)
    as_of = str(con.execute("select as_of_date from raw._build_info").fetchone()[0])
    yield con, as_of, built_warehouse
    con.close()


def writable_copy(path: Path, tmp_path: Path):
    target = tmp_path / "copy.duckdb"
    shutil.copyfile(path, target)
    return connect(target, read_only=False)


def test_expected_calibration_error_matches_a_hand_computation():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.1, 0.9, 0.7])
    # bins: [0.1, 0.1] -> |0 - 0.1| x 2; [0.7] -> |1 - 0.7|; [0.9] -> |1 - 0.9|
    assert ev.expected_calibration_error(y, p) == pytest.approx((0.2 + 0.3 + 0.1) / 4)
    assert ev.top_share_captured(np.array([1, 0, 0, 0]), np.array([0.9, 0.1, 0.1, 0.1]),
                                 np.array([10.0, 1, 1, 1]), share=0.25) == 1.0


@pytest.mark.slow
def test_removing_every_row_after_the_snapshot_changes_no_feature(book, tmp_path):
    """Features at a snapshot from the full warehouse equal those from a warehouse built as of the day before."""
    con, as_of, warehouse = book
    snapshot = training_snapshots(con, as_of)[-1]
    full = build_features(con, [snapshot], as_of)
    cut_day = (snapshot - pd.Timedelta(days=1)).date().isoformat()
    raw = warehouse.parent / "raw"
    cut_warehouse = tmp_path / "cut.duckdb"
    run = subprocess.run([str(Path(sys.executable).with_name("dunning")), "build", "--raw", str(raw),
                          "--warehouse", str(cut_warehouse), "--as-of", cut_day, "--reports", str(tmp_path / "r")],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    cut_con = connect(cut_warehouse)
    try:
        cut = build_features(cut_con, [snapshot], cut_day)
    finally:
        cut_con.close()
    columns = ["invoice_id", *CATEGORICAL, *NUMERIC]
    left = full[columns].sort_values("invoice_id").reset_index(drop=True)
    right = cut[columns].sort_values("invoice_id").reset_index(drop=True)
    assert len(left) > 20
    pd.testing.assert_frame_equal(left, right, check_dtype=False)
    assert full[LABEL].notna().all() and cut[LABEL].isna().all()  # only the label needs the future


@pytest.mark.slow
def test_scores_are_calibrated_deterministic_and_explained(book, tmp_path):
    con, as_of, warehouse = book
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first_con = writable_copy(warehouse, tmp_path / "a")
    second_con = writable_copy(warehouse, tmp_path / "b")
    try:
        first = train_evaluate_score(first_con, as_of, seed=3)
        second = train_evaluate_score(second_con, as_of, seed=3)
    finally:
        first_con.close()
        second_con.close()
    pd.testing.assert_frame_equal(first.scores, second.scores)
    # Reasons re-score only the rows whose feature group differs from the reference: the same as re-scoring all.
    held_out = first.test_frame
    every_row = explain(first.model, held_out)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reasons_module, "_equals", lambda values, reference: np.zeros(len(values), dtype=bool))
        pd.testing.assert_frame_equal(every_row, explain(first.model, held_out))
    assert (every_row["reason_1"] != "").any()
    model = first.metrics.set_index("scorer").loc["model"]
    # Small book (under 100 held-out items): calibration in the large, and a loose bound on the binned error.
    assert abs(model["mean_p"] - model["observed_rate"]) < 0.1, first.metrics
    assert model["ece"] < 0.2, first.metrics
    assert model["roc_auc"] > first.metrics.set_index("scorer").loc["rule_decline_family", "roc_auc"] - 0.05
    scores = first.scores
    assert scores["p_not_recovered_30d"].between(0, 1).all()
    assert np.allclose(scores["expected_loss"], (scores["p_not_recovered_30d"] * scores["exposure"]).round(2),
                       atol=0.011)
    # Reasons explain risk: the riskiest items name what drives them. (The expected-loss order also ranks large
    # balances of ordinary risk first; they may have no risk driver to name.)
    top = scores.sort_values(["p_not_recovered_30d", "invoice_id"], ascending=[False, True]).head(20)
    assert (top["reason_1"] != "").mean() > 0.7
    assert not scores[["reason_1", "reason_2", "reason_3"]].apply(lambda c: c.str.contains(r"\b1 \w+s\b")).any().any()


def test_reasons_name_the_item_s_own_values(book):
    con, as_of, _ = book
    snapshots = training_snapshots(con, as_of)
    frame = build_features(con, snapshots[-2:], as_of)
    frame = frame[frame[LABEL].notna()].copy()
    frame[LABEL] = frame[LABEL].astype(int)

    class Constant:  # a model whose only driver is days past due
        reference_ = {"days_past_due": 0.0, "account_max_days_past_due": 0.0}

        def predict_proba(self, f):
            return 1 / (1 + np.exp(-(f["days_past_due"].fillna(0).to_numpy() / 30)))

    reasons = explain(Constant(), frame)
    overdue = frame["days_past_due"] > 0
    assert overdue.any()
    expected = frame.loc[overdue, "days_past_due"].astype(int).astype(str) + " days past due"
    assert (reasons.loc[overdue, "reason_1"] == expected).all()
    assert set(REASON_GROUPS) >= {"days_past_due", "card_expiry", "promises"}


def test_an_absence_is_never_read_out_as_a_reason(book):
    """A score can move with a group whose values are an absence (no broken promise, no dispute); the reason then
    goes to the next group that names something present, never to "no broken promises"."""
    con, as_of, _ = book
    frame = build_features(con, training_snapshots(con, as_of)[-2:], as_of)

    class PrefersTrouble:  # to this model, fewer broken promises and disputes mean more risk; then days past due
        reference_ = {"broken_promises_180d": 3.0, "kept_promises_180d": 0.0, "has_open_promise": 0.0,
                      "disputes_365d": 2.0, "write_offs_365d": 0.0, "days_past_due": 0.0,
                      "account_max_days_past_due": 0.0}

        def predict_proba(self, f):
            z = (-f["broken_promises_180d"].fillna(0).to_numpy() - f["disputes_365d"].fillna(0).to_numpy()
                 + f["days_past_due"].fillna(0).clip(lower=0).to_numpy() / 60)
            return 1 / (1 + np.exp(-z))

    reasons = explain(PrefersTrouble(), frame)
    quiet = (frame["broken_promises_180d"].fillna(0) == 0) & (frame["has_open_promise"].fillna(0) == 0) & (
        frame["disputes_365d"].fillna(0) == 0) & (frame["write_offs_365d"].fillna(0) == 0)
    overdue = quiet & (frame["days_past_due"] >= 5)  # enough to move the score by more than half a point
    assert quiet.any() and overdue.any()
    texts = reasons[["reason_1", "reason_2", "reason_3"]]
    assert not texts[quiet.to_numpy()].apply(lambda c: c.str.contains("promise|dispute")).any().any()
    expected = frame.loc[overdue, "days_past_due"].astype(int).astype(str) + " days past due"
    assert (reasons.loc[overdue, "reason_1"] == expected).all()


@pytest.mark.slow
def test_oracle_comparison_on_small_data(book):
    con, as_of, warehouse = book
    table, joined = compare_with_oracle(con, warehouse.parent / "raw" / "truth", as_of)
    scorers = table.set_index("scorer")
    assert {"model", "logistic", "rule_days_past_due", "rule_decline_family", "oracle"} <= set(scorers.index)
    assert table["truth_coverage"].iloc[0] > 0.8
    assert 0.6 < scorers.loc["oracle", "roc_auc"] <= 1
    assert scorers.loc["oracle", "roc_auc"] >= scorers.loc["rule_decline_family", "roc_auc"] - 0.02
    assert joined["p_not_paid_30d"].between(0, 1).all()


def test_the_oracle_comparison_of_a_build_s_held_out_frame_equals_the_recomputed_one(book, tmp_path):
    """The demo hands the build's held-out frame to the evaluation instead of training again: same figures."""
    con, as_of, warehouse = book
    truth = warehouse.parent / "raw" / "truth"
    with writable_copy(warehouse, tmp_path) as copy:
        run = train_evaluate_score(copy, as_of, seed=0)
    reused, reused_joined = compare_with_oracle(con, truth, as_of, test_scored=run.test_frame)
    recomputed, recomputed_joined = compare_with_oracle(con, truth, as_of)
    pd.testing.assert_frame_equal(reused, recomputed)
    pd.testing.assert_frame_equal(reused_joined.reset_index(drop=True), recomputed_joined.reset_index(drop=True))
