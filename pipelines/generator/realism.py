"""Realism statistics of a generated book next to the bands of shared/docs/GENERATOR_TARGETS.md.

Computed from the contract files as a user would see them (plus truth/ for the oracle's skill), so the report
checks what was written, not the simulator's internals.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from sklearn.metrics import roc_auc_score

from pipelines.generator.codes import CARD_DECLINE_CODES

DECLINE_FAMILY = {code: family for family, options in CARD_DECLINE_CODES.items() for code, _, _ in options}


@dataclass(frozen=True)
class Stat:
    name: str
    value: float
    low: float
    high: float
    source: str

    @property
    def ok(self) -> bool:
        return self.low <= self.value <= self.high


def read_book(folder: Path) -> dict[str, pd.DataFrame]:
    """Every file of a generated load folder (CSV or Parquet) and its truth/, as string-typed frames."""
    tables = {}
    for path in sorted(Path(folder).glob("*.*")) + sorted((Path(folder) / "truth").glob("*.*")):
        key = ("truth/" if path.parent.name == "truth" else "") + path.stem
        if path.suffix == ".csv":
            tables[key] = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif path.suffix == ".parquet":
            tables[key] = pd.read_parquet(path).astype(str).replace({"<NA>": "", "None": "", "nan": ""})
    return tables


def realism_stats(book: dict[str, pd.DataFrame]) -> list[Stat]:
    acc, inv, pay = book["accounts"], book["invoices"], book["payments"]
    apps, att = book["payment_applications"], book["payment_attempts"]
    num = lambda s: pd.to_numeric(s, errors="coerce")  # noqa: E731
    stats: list[Stat] = []
    add = lambda *a: stats.append(Stat(*a))  # noqa: E731

    seg = acc["segment"].value_counts(normalize=True)
    add("SMB share of accounts", seg.get("smb", 0), 0.6, 0.85, "ours")
    add("enterprise share of accounts", seg.get("enterprise", 0), 0.02, 0.1, "ours")
    add("USD share of accounts", (acc["currency"] == "USD").mean(), 0.6, 0.85, "ours")

    posted = inv[inv["status"] == "posted"].copy()
    posted["amount"] = num(posted["amount"])
    posted["due"] = pd.to_datetime(posted["due_date"])
    end = pd.to_datetime(inv["invoice_date"]).max()
    applied_at = pd.to_datetime(apps["applied_at"]).dt.tz_localize(None)
    applied = apps.assign(amount=num(apps["applied_amount"]), at=applied_at)
    paid = applied.groupby("invoice_id").agg(paid=("amount", "sum"), last=("at", "max"))
    memos = book["credit_memos"]
    credits = memos.assign(amount=num(memos["amount"])).groupby("invoice_id")["amount"].sum()
    posted = posted.join(paid, on="invoice_id").join(credits.rename("credit"), on="invoice_id")
    posted[["paid", "credit"]] = posted[["paid", "credit"]].fillna(0)
    mature = posted[posted["due"] <= end - pd.Timedelta(days=90)]
    settled = mature["paid"] + mature["credit"] >= mature["amount"] - 0.01
    on_time = settled & (mature["last"].dt.normalize() <= mature["due"])
    add("invoices paid after due date", 1 - on_time.mean(), 0.30, 0.45, "src: HighRadius 38 %")

    wo = num(book["write_offs"]["amount"]).sum()
    add("write-offs / invoiced amount", wo / posted["amount"].sum(), 0.005, 0.03, "ours")

    posted["open"] = (posted["amount"] - posted["paid"] - posted["credit"]).clip(lower=0)
    wo_by_inv = book["write_offs"].assign(a=num(book["write_offs"]["amount"])).groupby("invoice_id")["a"].sum()
    posted["open"] = (posted["open"] - posted["invoice_id"].map(wo_by_inv).fillna(0)).clip(lower=0)
    last_90 = posted[pd.to_datetime(posted["invoice_date"]) > end - pd.Timedelta(days=90)]["amount"].sum()
    add("simple DSO (days, last 90 days of sales)", posted["open"].sum() / max(last_90, 1) * 90, 30, 60, "ours")

    card = att[att["method"] == "card"].copy()
    card["n"] = num(card["attempt_number"])
    card["at"] = pd.to_datetime(card["attempted_at"]).dt.tz_localize(None)
    card["amount"] = num(card["amount"])
    first = card[card["n"] == 1]
    add("card charges failing on first attempt", (first["outcome"] == "failed").mean(), 0.08, 0.15,
        "src: Recurly about 13 %")
    failed = first[first["outcome"] == "failed"].copy()
    failed["family"] = failed["decline_code"].map(DECLINE_FAMILY).fillna("unmapped")
    mix = failed["family"].value_counts(normalize=True)
    for family, low, high, src in (
        ("insufficient_funds", 0.35, 0.6, "src: about 47 %"),
        ("do_not_honor", 0.15, 0.30, "ours"),
        ("issuer_unavailable", 0.03, 0.08, "ours"),
        ("avs_cvv_mismatch", 0.02, 0.06, "ours"),
        ("lost_stolen_fraud", 0.01, 0.05, "ours"),
        ("authentication_required", 0.01, 0.05, "ours"),
    ):
        add(f"decline mix: {family}", mix.get(family, 0), low, high, src)
    add("decline mix: expired or invalid card data", mix.get("expired_card", 0) + mix.get("invalid_card_data", 0),
        0.08, 0.20, "ours")
    largest = mix.idxmax() if len(mix) else ""
    add("insufficient funds is the largest family", float(largest == "insufficient_funds"), 1, 1, "src")

    # Recovery of failed card charges within 30 days, and how.
    later = card[card["outcome"] == "succeeded"].merge(failed[["invoice_id", "at", "amount"]], on="invoice_id",
                                                       suffixes=("", "_fail"))
    later = later[(later["at"] > later["at_fail"]) & (later["at"] < later["at_fail"] + pd.Timedelta(days=30))]
    other = pay[pay["attempt_id"] == ""][["payment_id", "effective_date"]].merge(
        apps[["payment_id", "invoice_id"]], on="payment_id").merge(failed[["invoice_id", "at"]], on="invoice_id")
    other = other[(pd.to_datetime(other["effective_date"]) >= other["at"].dt.normalize())
                  & (pd.to_datetime(other["effective_date"]) < other["at"] + pd.Timedelta(days=30))]
    by_retry = set(later.loc[later["is_customer_initiated"] == "false", "invoice_id"])
    by_customer = (set(later.loc[later["is_customer_initiated"] == "true", "invoice_id"])
                   | set(other["invoice_id"])) - by_retry
    recovered = by_retry | by_customer
    mature_fail = failed[failed["at"] <= end - pd.Timedelta(days=30)]
    rec_amount = mature_fail.loc[mature_fail["invoice_id"].isin(recovered), "amount"].sum()
    add("failed card amount recovered within 30 days", rec_amount / max(mature_fail["amount"].sum(), 1), 0.35, 0.65,
        "src: 12.7-70 %")
    n_rec = len(recovered & set(mature_fail["invoice_id"]))
    add("share of recoveries by automatic retry", len(by_retry & set(mature_fail["invoice_id"])) / max(n_rec, 1),
        0.5, 0.72, "src: Churn Buster 60-63 %")

    ach = att[att["method"] == "ach_debit"]
    returns = book["ach_returns"]
    add("ACH return rate", len(returns) / max(len(ach), 1), 0.0, 0.15, "src: NACHA 15 % threshold")
    unauthorized = returns["return_code"].isin(["R05", "R07", "R10", "R11", "R29"]).sum()
    add("ACH unauthorized return rate", unauthorized / max(len(ach), 1), 0.0, 0.005, "src: NACHA 0.5 %")
    add("share of ACH returns that are R01", (returns["return_code"] == "R01").mean() if len(returns) else 0, 0.5,
        0.8, "src")
    card_payments = (pay["method"] == "card").sum()
    add("disputes per card payment", len(book["disputes"]) / max(card_payments, 1), 0.0005, 0.01, "ours")

    ptp = book["promises_to_pay"]
    decided = ptp[ptp["status"].isin(["kept", "broken"])]
    add("promise-to-pay kept rate", (decided["status"] == "kept").mean() if len(decided) else 0, 0.5, 0.8, "ours")

    n_acc = len(acc)
    pay_amount = num(pay["amount"])
    applied_sum = applied.groupby("payment_id")["amount"].sum()
    unapplied = pay_amount - pay["payment_id"].map(applied_sum).fillna(0).to_numpy()
    inv_pay_count = apps.groupby("invoice_id")["payment_id"].nunique()
    partial_inv = set(inv_pay_count[inv_pay_count > 1].index)
    for label, accounts in (
        ("accounts with partial payments", inv[inv["invoice_id"].isin(partial_inv)]["account_id"]),
        ("accounts with overpayments or unapplied cash", pay.loc[unapplied > 0.01, "account_id"]),
        ("accounts with credit memos", book["credit_memos"]["account_id"]),
        ("accounts with refunds", book["refunds"]["account_id"]),
    ):
        add(label, accounts.nunique() / n_acc, 0.005, 0.2, "ours: a few percent")

    outreach = book["outreach"]
    emails = outreach[outreach["channel"] == "email"]
    add("email bounce rate", (emails["outcome"] == "bounced").mean(), 0.01, 0.08, "ours")

    daily = pay.assign(a=pay_amount, d=pd.to_datetime(pay["effective_date"])).groupby("d")["a"].sum()
    last3 = daily[daily.index.is_month_end | (daily.index + pd.offsets.BDay(2)).is_month_end
                  | (daily.index + pd.offsets.BDay(1)).is_month_end]
    weekday_mean = daily[daily.index.dayofweek < 5].mean()
    add("month-end receipts vs average business day", last3.mean() / weekday_mean, 1.15, 4.0, "ours: spikes")
    weekend = daily[daily.index.dayofweek >= 5].sum() / daily.sum()
    add("share of receipts on weekends (card only clears then)", weekend, 0.0, 0.12, "ours")

    truth = book.get("truth/failures")
    if truth is not None and len(truth):
        t = truth.copy()
        t["at"] = pd.to_datetime(t["failed_at"]).dt.tz_localize(None)
        t = t[t["at"] <= end - pd.Timedelta(days=30)]
        t["not_recovered"] = ~t["invoice_id"].isin(_recovered_invoices(book, t))
        if t["not_recovered"].nunique() == 2:
            add("oracle ROC AUC, 30-day non-recovery of failures",
                roc_auc_score(t["not_recovered"], num(t["p_not_recovered_30d"])), 0.80, 0.92, "ours")
            add("oracle calibration: mean p - observed rate",
                num(t["p_not_recovered_30d"]).mean() - t["not_recovered"].mean(), -0.03, 0.03, "exact truth")
    return stats


def _recovered_invoices(book, failures: pd.DataFrame) -> set[str]:
    """Invoices with cash applied within 30 days after their failure (any route)."""
    apps = book["payment_applications"]
    pay = book["payments"][["payment_id", "effective_date"]]
    got = apps.merge(pay, on="payment_id").merge(failures[["invoice_id", "at"]], on="invoice_id")
    eff = pd.to_datetime(got["effective_date"])
    ok = (eff >= got["at"].dt.normalize()) & (eff < got["at"] + pd.Timedelta(days=30))
    return set(got.loc[ok, "invoice_id"])


def stats_frame(stats: list[Stat]) -> pd.DataFrame:
    return pd.DataFrame([{"statistic": s.name, "value": round(s.value, 4), "band": f"{s.low:g} - {s.high:g}",
                          "in_band": s.ok, "source": s.source} for s in stats])
