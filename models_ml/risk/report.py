"""Model card and evaluation report (markdown with PNG plots) in reports/."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from models_ml.risk import evaluate as ev  # noqa: E402
from models_ml.risk.features import CATEGORICAL, NUMERIC  # noqa: E402
from models_ml.risk.model import MIN_BOOSTING_ROWS, MODEL_VERSION  # noqa: E402

LABEL = "not_recovered_30d"
SCORER_NAMES = {
    "model": "Model (gradient boosting, calibrated)",
    "logistic": "Logistic regression baseline",
    "rule_days_past_due": "Rule: days past due",
    "rule_decline_family": "Rule: decline family",
    "oracle": "Oracle (simulator's true probability)",
}


def metrics_markdown(table: pd.DataFrame) -> str:
    header = "| scorer | ROC AUC | PR AUC | Brier | ECE | top-10 % capture | mean p | observed | items |\n"
    header += "|---|---|---|---|---|---|---|---|---|\n"
    lines = [
        f"| {SCORER_NAMES.get(r.scorer, r.scorer)} | {r.roc_auc:.3f} | {r.pr_auc:.3f} | {r.brier:.3f} | "
        f"{r.ece:.3f} | {r.top10_capture:.1%} | {r.mean_p:.3f} | {r.observed_rate:.3f} | {r.items:,} |"
        for r in table.itertuples()
    ]
    return header + "\n".join(lines) + "\n"


def plot_calibration(frame: pd.DataFrame, scorers: list[str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
    for name in scorers:
        points = ev.calibration_points(frame[LABEL], frame[name])
        ax.plot(points["predicted"], points["observed"], marker="o", label=SCORER_NAMES.get(name[2:], name))
    ax.set_xlabel("predicted P(not recovered in 30 days)")
    ax.set_ylabel("observed share not recovered")
    ax.set_title("Calibration on the held-out period")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_capture(frame: pd.DataFrame, scorers: list[str], path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    at_risk = frame[LABEL] * frame["exposure"]
    for name in scorers:
        order = np.argsort(-(frame[name] * frame["exposure"]).to_numpy(), kind="stable")
        captured = np.cumsum(at_risk.to_numpy()[order]) / at_risk.sum()
        ax.plot(np.arange(1, len(order) + 1) / len(order), captured, label=SCORER_NAMES.get(name[2:], name))
    ax.axvline(0.10, color="grey", linestyle=":")
    ax.set_xlabel("share of the worklist worked (ranked by expected loss)")
    ax.set_ylabel("share of the unrecovered amount reached")
    ax.set_title("Worklist value on the held-out period")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_model_card(folder: Path, metrics: pd.DataFrame, test: pd.DataFrame, model, labelled: pd.DataFrame,
                     as_of: str) -> Path:
    """reports/risk_model_card.md with metrics against the baselines and two plots."""
    folder.mkdir(parents=True, exist_ok=True)
    scorers = ["p_model", "p_logistic", "p_rule_days_past_due", "p_rule_decline_family"]
    plot_calibration(test, scorers, folder / "risk_calibration.png")
    plot_capture(test, scorers, folder / "risk_capture.png")
    train_snapshots = labelled["snapshot_date"].nunique()
    test_dates = sorted(test["snapshot_date"].dt.date.unique())
    card = f"""# Risk model card: {MODEL_VERSION}

As of {as_of}. Predicts, for every open receivable item (an invoice that is overdue, due within 14 days, or in a
failed card/ACH collection), the probability that its balance is **not** cleared by cash or credits within 30
days. Expected loss = probability x open amount (reporting currency) ranks the collectors' worklist.

## Data
- {len(labelled):,} labelled item-snapshots over {train_snapshots} monthly snapshots (the first day of each month,
  seeing only events of earlier days); not-recovered share {labelled[LABEL].mean():.1%}.
- Held-out test period: the latest snapshots {', '.join(str(d) for d in test_dates)} (trained on earlier ones only).
- Features ({len(NUMERIC)} numeric, {len(CATEGORICAL)} categorical): item type, exposure, days past due, decline
  family and hardness, failure age and attempts, card expiry, failure/recovery history, lateness history,
  write-offs, disputes, broken/kept promises, outreach and responses, account balance position, calendar.

## Method
Fitted here: {model.kind_ or "gradient boosting"}. scikit-learn Pipeline: ColumnTransformer (ordinal categories,
raw numerics) + HistGradientBoostingClassifier, isotonic calibration on out-of-fold predictions (5 folds inside
the training period); under {MIN_BOOSTING_ROWS:,} training rows a logistic regression with sigmoid calibration
instead, since boosting learns next to nothing from so few. The test period is
always later than every training snapshot (time-ordered validation, never shuffled across it).
Baselines: logistic regression (one-hot + scaled numerics) and two calibrated rules (non-recovery rate by
days-past-due bucket; by item type and decline family). Reasons: each feature group is reset to its typical
value among recovered items; the three groups that raise the score most are worded from the item's own values.

## Results on the held-out period
{metrics_markdown(metrics)}
ECE = expected calibration error (10 equal-width bins). Top-10 % capture = share of the amount that was in fact not
recovered found in the first 10 % of items ranked by expected loss.

![calibration](risk_calibration.png)
![capture](risk_capture.png)

## Limits
- Trained on this book's history only; a new book needs a few months with closed 30-day windows (at least 3).
- Reasons describe the model, not causes. Collections actions change outcomes; the model learns under the
  current policy.
"""
    path = folder / "risk_model_card.md"
    path.write_text(card)
    return path


def write_oracle_report(folder: Path, table: pd.DataFrame, joined: pd.DataFrame, as_of: str) -> Path:
    """reports/risk_evaluation.md: the model against baselines and the simulator's truth (generated data only)."""
    folder.mkdir(parents=True, exist_ok=True)
    plot_calibration(joined.rename(columns={"p_not_paid_30d": "p_oracle"}),
                     ["p_model", "p_logistic", "p_oracle"], folder / "risk_oracle_calibration.png")
    get = table.set_index("scorer")
    share = get.loc["model", "roc_auc"] / get.loc["oracle", "roc_auc"]
    best_rule = max(get.loc["rule_days_past_due", "top10_capture"], get.loc["rule_decline_family", "top10_capture"])
    checks = [
        ("ROC AUC at least 97 % of the oracle's", share >= 0.97, f"{share:.1%}"),
        ("expected calibration error at most 0.03", get.loc["model", "ece"] <= 0.03, f"{get.loc['model', 'ece']:.3f}"),
        ("top-10 % capture above both rule baselines", get.loc["model", "top10_capture"] > best_rule,
         f"{get.loc['model', 'top10_capture']:.1%} vs {best_rule:.1%}"),
    ]
    lines = "\n".join(f"| {name} | {value} | {'met' if ok else 'MISSED'} |" for name, ok, value in checks)
    text = f"""# Risk model evaluation against the oracle

As of {as_of}, held-out later period of the generated book. The oracle scores each item with the probability the
simulator used to draw its outcome (truth/invoice_snapshots); it is the best any model could do on this data.
Items with a truth row: {table['truth_coverage'].iloc[0]:.1%} of the test items.

{metrics_markdown(table)}
| target | measured | status |
|---|---|---|
{lines}

![calibration against the oracle](risk_oracle_calibration.png)
"""
    path = folder / "risk_evaluation.md"
    path.write_text(text)
    return path
