"""`make accuracy`: model quality across generated books, against baselines and the simulator's truth.

For each seed: generate a book (2,000 accounts x 24 months unless told otherwise), `dunning build` it, then compare
the cash forecast's backtest and the risk model's held-out period with the oracle (truth/, read here only, never by
a build). One book is one draw of a noisy world (a single large invoice can move a month's WAPE), so figures are
stated per book and across books, each against the issue's target, newest run first in benchmarks/accuracy.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "accuracy.md"
TARGETS = {"naive_gain": 0.25, "oracle_gap": 0.15, "coverage_80": (0.75, 0.85), "auc_share": 0.97, "ece": 0.03}


def build_book(seed: int, accounts: int, months: int, work: Path) -> Path:
    """Generate (unless this book is already there) and build one seed's book; returns its folder."""
    folder = work / f"seed{seed}_{accounts}x{months}"
    raw, dunning = folder / "raw", Path(sys.executable).with_name("dunning")
    env = {**os.environ, "DUNNING_REPORTS": str(folder / "reports"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    if not (raw / "manifest.json").exists():
        subprocess.run([str(dunning), "generate", "--out", str(raw), "--accounts", str(accounts), "--months",
                        str(months), "--seed", str(seed)], check=True, capture_output=True, env=env)
    subprocess.run([str(dunning), "build", "--raw", str(raw), "--warehouse", str(folder / "warehouse.duckdb")],
                   check=True, capture_output=True, env=env)
    return folder


def measure(folder: Path) -> dict:
    """Forecast and risk figures of one built book against its truth/."""
    from models_ml.forecasting import compare_with_oracle as compare_forecasts
    from models_ml.io import build_as_of, connect
    from models_ml.risk.train import compare_with_oracle as compare_risk

    con = connect(folder / "warehouse.duckdb")
    try:
        as_of = build_as_of(con)
        forecast, _ = compare_forecasts(con, folder / "raw" / "truth", as_of)
        risk, _ = compare_risk(con, folder / "raw" / "truth", as_of)
    finally:
        con.close()
    f, r = forecast.set_index("model"), risk.set_index("scorer")
    return {
        "wape": f.loc["combination", "wape"], "naive_wape": f.loc["seasonal_naive", "wape"],
        "oracle_wape": f.loc["oracle", "wape"], "bottom_up_wape": f.loc["bottom_up", "wape"],
        "coverage_80": f.loc["combination", "coverage_80"], "coverage_95": f.loc["combination", "coverage_95"],
        "auc": r.loc["model", "roc_auc"], "oracle_auc": r.loc["oracle", "roc_auc"], "ece": r.loc["model", "ece"],
        "capture": r.loc["model", "top10_capture"],
        "rule_capture": r.loc[["rule_days_past_due", "rule_decline_family"], "top10_capture"].max(),
    }


def to_markdown(rows: dict[int, dict], accounts: int, months: int) -> str:
    """Per book and across books, every figure next to its target (met / MISSED)."""
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame["naive_gain"] = 1 - frame["wape"] / frame["naive_wape"]
    frame["oracle_gap"] = frame["wape"] / frame["oracle_wape"] - 1
    frame["auc_share"] = frame["auc"] / frame["oracle_auc"]
    lo, hi = TARGETS["coverage_80"]
    checks = {
        "naive_gain": (frame["naive_gain"] >= TARGETS["naive_gain"], "daily WAPE >= 25 % better than seasonal naive"),
        "oracle_gap": (frame["oracle_gap"] <= TARGETS["oracle_gap"], "daily WAPE within 15 % of the oracle's"),
        "coverage_80": (frame["coverage_80"].between(lo, hi), "80 % intervals cover 75-85 %"),
        "auc_share": (frame["auc_share"] >= TARGETS["auc_share"], "risk ROC AUC >= 97 % of the oracle's"),
        "ece": (frame["ece"] <= TARGETS["ece"], "risk ECE <= 0.03"),
        "capture": (frame["capture"] > frame["rule_capture"], "top-10 % capture above both rule baselines"),
    }
    lines = [f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — {len(frame)} books of {accounts:,} accounts x {months} "
             f"months (seeds {', '.join(map(str, frame.index))})", "",
             "| seed | forecast WAPE | seasonal naive | oracle | gain vs naive | gap to oracle | 80 % cov. | "
             "95 % cov. | risk AUC | oracle AUC | ECE | top-10 % capture | best rule |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for seed, r in frame.iterrows():
        lines.append(f"| {seed} | {r.wape:.1%} | {r.naive_wape:.1%} | {r.oracle_wape:.1%} | {r.naive_gain:+.1%} | "
                     f"{r.oracle_gap:+.1%} | {r.coverage_80:.1%} | {r.coverage_95:.1%} | {r.auc:.3f} | "
                     f"{r.oracle_auc:.3f} | {r.ece:.3f} | {r.capture:.1%} | {r.rule_capture:.1%} |")
    mean = frame.mean()
    lines.append(f"| mean | {mean.wape:.1%} | {mean.naive_wape:.1%} | {mean.oracle_wape:.1%} | "
                 f"{mean.naive_gain:+.1%} | {mean.oracle_gap:+.1%} | {mean.coverage_80:.1%} | "
                 f"{mean.coverage_95:.1%} | {mean.auc:.3f} | {mean.oracle_auc:.3f} | {mean.ece:.3f} | "
                 f"{mean.capture:.1%} | {mean.rule_capture:.1%} |")
    lines.append("")
    for column, (met, text) in checks.items():
        on_mean = {"naive_gain": mean.naive_gain >= TARGETS["naive_gain"],
                   "oracle_gap": mean.oracle_gap <= TARGETS["oracle_gap"], "coverage_80": lo <= mean.coverage_80 <= hi,
                   "auc_share": mean.auc_share >= TARGETS["auc_share"], "ece": mean.ece <= TARGETS["ece"],
                   "capture": mean.capture > mean.rule_capture}[column]
        lines.append(f"- {text}: {int(met.sum())} of {len(frame)} books; across books "
                     f"{'met' if on_mean else 'MISSED'}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3, 4, 5, 7, 8, 9, 10, 11])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--work", type=Path, default=HERE / "runs" / "accuracy")
    args = parser.parse_args(argv)
    rows = {}
    for seed in args.seeds:
        print(f"seed {seed}: generate and build ...", flush=True)
        rows[seed] = measure(build_book(seed, args.accounts, args.months, args.work))
        print(json.dumps({"seed": seed, **{k: round(float(v), 4) for k, v in rows[seed].items()}}), flush=True)
    text = to_markdown(rows, args.accounts, args.months)
    previous = RESULTS.read_text().split("\n", 2)[2] if RESULTS.exists() else ""
    RESULTS.write_text("# Model quality across generated books (newest first)\n\n" + text + "\n" + previous)
    print(text)


if __name__ == "__main__":
    main()
