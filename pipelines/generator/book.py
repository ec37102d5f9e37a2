"""Turn a simulation into contract files (one per entity) plus truth/, with stable ids and UTC timestamps."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.contract import load_contract
from pipelines.generator import calendar as cal
from pipelines.generator.simulate import FX_START, BookConfig, Simulator, simulate


def _dates(days) -> pd.Series:
    return pd.Series(cal.to_dates(days)).dt.strftime("%Y-%m-%d")


def _stamps(days, hours) -> pd.Series:
    seconds = np.asarray(days, dtype=np.int64) * 86400 + np.round(np.asarray(hours, dtype=float) * 3600).astype(
        np.int64)
    return pd.Series(seconds.astype("datetime64[s]")).dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ids(prefix: str, n: int, width: int = 8, first: int = 1) -> np.ndarray:
    return np.array([f"{prefix}-{i:0{width}d}" for i in range(first, first + n)], dtype=object)


def _sorted(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return frame.sort_values(by, kind="stable").reset_index(drop=True)


class BookWriter:
    """Assemble contract tables from a finished Simulator; nothing after the book's end date is emitted."""

    def __init__(self, sim: Simulator, first_ids: dict[str, int] | None = None, fx_seed: int | None = None):
        self.sim = sim
        self.end = sim.end
        self.acc_ids = sim.acc["account_id"].to_numpy()
        self.tables: dict[str, pd.DataFrame] = {}
        self.truth: dict[str, pd.DataFrame] = {}
        # A book written in account chunks numbers each id on from the previous chunk and shares one FX history.
        self.next_ids = dict(first_ids or {})
        self.fx_seed = sim.cfg.seed + 1 if fx_seed is None else fx_seed

    def ids(self, prefix: str, n: int, width: int = 8) -> np.ndarray:
        first = self.next_ids.get(prefix, 1)
        self.next_ids[prefix] = first + n
        return _ids(prefix, n, width, first)

    # Columns each event table has, so a book without, say, any credit memo still writes an empty file.
    EVENT_COLUMNS = {
        "credit_memos": ("account", "invoice", "amount", "day", "hours", "reason"),
        "write_offs": ("account", "invoice", "amount", "day", "hours", "reason"),
        "payment_plans": ("account", "invoice", "day", "amount", "count", "first_due", "pay_day"),
        "promises_to_pay": ("account", "invoice", "day", "hours", "promised_day", "pay_day", "collector"),
        "cases": ("account", "invoice", "case_type", "opened_day", "closed_day", "subject", "notes"),
        "ach_returns": ("account", "invoice", "attempt_number", "code", "day"),
        "outreach": ("account", "invoice", "channel", "direction", "template", "day", "hours", "outcome",
                     "collector", "note"),
    }

    def frame(self, name: str) -> pd.DataFrame:
        return self.sim.t[name].frame(self.EVENT_COLUMNS.get(name, ()))

    def build(self):
        self.build_fx()
        self.build_accounts()
        self.build_invoices()
        self.build_attempts()
        self.build_payments()
        self.build_disputes_refunds()
        self.build_credits_writeoffs()
        self.build_plans_promises()
        self.build_outreach_cases()
        self.build_truth()
        return self

    def build_fx(self):
        rng = np.random.default_rng(self.fx_seed)
        days = np.arange(self.sim.start - 1, self.end + 1)
        frames = []
        for cur, start in FX_START.items():
            walk = start * np.exp(np.cumsum(rng.normal(0, 0.004, days.size)))
            frames.append(pd.DataFrame({"rate_date": _dates(days), "currency": cur,
                                        "rate_to_reporting": np.round(walk, 6)}))
        self.fx = pd.concat(frames, ignore_index=True)
        self.tables["fx_rates"] = self.fx

    def build_accounts(self):
        acc = self.sim.acc.copy()
        acc["created_date"] = _dates(acc.pop("created_day"))
        acc["credit_limit_amount"] = acc["credit_limit_amount"].map(lambda v: f"{v:.2f}")
        self.tables["accounts"] = acc

    def build_invoices(self):
        inv = _sorted(self.frame("invoices"), ["invoice_day", "key"])
        inv = inv[inv["invoice_day"] <= self.end].reset_index(drop=True)
        inv["invoice_id"] = self.ids("INV", len(inv))
        self.inv_id = dict(zip(inv["key"], inv["invoice_id"], strict=True))
        self.inv = inv
        self.tables["invoices"] = pd.DataFrame({
            "invoice_id": inv["invoice_id"], "account_id": self.acc_ids[inv["account"]],
            "invoice_date": _dates(inv["invoice_day"]), "due_date": _dates(inv["due_day"]),
            "posted_at": _stamps(inv["invoice_day"], inv["posted_hours"]), "currency": inv["currency"],
            "amount": inv["amount"].round(2), "tax_amount": inv["tax_amount"].round(2), "status": inv["status"],
            "billing_period_start": _dates(inv["period_start"]), "billing_period_end": _dates(inv["period_end"]),
            "source_system": np.where(self.sim.acc["segment"].to_numpy()[inv["account"]] == "enterprise",
                                      "netsuite", "zuora"),
        })

    def map_invoice(self, keys) -> np.ndarray:
        return np.array([self.inv_id.get(k, "") for k in keys], dtype=object)

    def build_attempts(self):
        att = self.frame("payment_attempts")
        att = att[att["day"] <= self.end]
        att = _sorted(att, ["day", "hours", "account", "attempt_number"])
        att["attempt_id"] = self.ids("ATT", len(att), 9)
        self.att_key = {(i, n): a for i, n, a in zip(att["invoice"], att["attempt_number"], att["attempt_id"],
                                                     strict=True)}
        currency = self.sim.acc["currency"].to_numpy()[att["account"]]
        self.tables["payment_attempts"] = pd.DataFrame({
            "attempt_id": att["attempt_id"], "invoice_id": self.map_invoice(att["invoice"]),
            "account_id": self.acc_ids[att["account"]], "attempted_at": _stamps(att["day"], att["hours"]),
            "amount": att["amount"].round(2), "currency": currency, "method": att["method"],
            "outcome": att["outcome"], "decline_code": att["decline_code"], "response_code": att["response_code"],
            "advice_code": att["advice_code"], "card_brand": att["card_brand"], "card_last4": att["card_last4"],
            "card_exp_month": att["card_exp_month"].replace(0, pd.NA).astype("Int64"),
            "card_exp_year": att["card_exp_year"].replace(0, pd.NA).astype("Int64"),
            "attempt_number": att["attempt_number"], "is_customer_initiated": att["customer"].map(
                {True: "true", False: "false"}),
            "gateway": att["gateway"],
        })
        ret = self.frame("ach_returns")
        # A debit returned after the extract is still pending in it.
        later = ret.loc[ret["day"] > self.end, ["invoice", "attempt_number"]]
        pending = set(zip(later["invoice"], later["attempt_number"], strict=True))
        if pending:
            keys = list(zip(att["invoice"], att["attempt_number"], strict=True))
            is_pending = np.array([k in pending for k in keys]) & (att["method"] == "ach_debit").to_numpy()
            self.tables["payment_attempts"].loc[is_pending, "outcome"] = "pending"
        ret = ret[ret["day"] <= self.end]
        ret["attempt_id"] = [self.att_key.get((i, n), "") for i, n in zip(ret["invoice"], ret["attempt_number"],
                                                                         strict=True)]
        ret = _sorted(ret[ret["attempt_id"] != ""], ["day", "attempt_id"])
        self.tables["ach_returns"] = pd.DataFrame({
            "return_id": self.ids("RET", len(ret)), "attempt_id": ret["attempt_id"], "return_code": ret["code"],
            "return_date": _dates(ret["day"])})

    def build_payments(self):
        rng = np.random.default_rng(self.sim.cfg.seed + 2)
        pay = self.frame("payments")
        pay = pay[pay["day"] <= self.end]
        if "unapplied_days" not in pay:
            pay["unapplied_days"] = 0
        pay["unapplied_days"] = pay["unapplied_days"].fillna(0).astype(int)
        pay = _sorted(pay, ["day", "hours", "account", "invoice"])
        pay["payment_id"] = self.ids("PAY", len(pay))
        pay["key"] = pay["payment_id"]
        self.pay = pay
        invoice_id = self.map_invoice(pay["invoice"])
        # Month-end cutoff: some receipts dated the last day are posted just after midnight in the close zone.
        tz = ZoneInfo(self.sim.cfg.close_timezone)
        posted = pd.to_datetime(_stamps(pay["day"], pay["hours"]), utc=True)
        last_day = cal.month_end(pay["day"].to_numpy()) == pay["day"].to_numpy()
        late_post = last_day & (rng.random(len(pay)) < 0.05)
        for i in np.flatnonzero(late_post):
            next_day = dt.date(1970, 1, 1) + dt.timedelta(days=int(pay["day"].iat[i]) + 1)
            local = dt.datetime.combine(next_day, dt.time(0, int(rng.integers(0, 45))), tz)
            posted.iat[i] = pd.Timestamp(local).tz_convert("UTC")
        method = pay["method"].to_numpy()
        has_attempt = np.isin(method, ("card", "ach_debit")) & (pay["attempt_number"].to_numpy() > 0)
        attempt_id = np.array([self.att_key.get((i, n), "") if a else "" for i, n, a in zip(
            pay["invoice"], pay["attempt_number"], has_attempt, strict=True)], dtype=object)
        unapplied = pay["unapplied_days"].to_numpy() > 0
        reference = np.where(unapplied, "Payment - see remittance to follow",
                             np.where(method == "card", "Card payment " + invoice_id, "Payment for " + invoice_id))
        self.tables["payments"] = pd.DataFrame({
            "payment_id": pay["payment_id"], "account_id": self.acc_ids[pay["account"]], "method": method,
            "amount": pay["amount"].round(2), "currency": self.sim.acc["currency"].to_numpy()[pay["account"]],
            "effective_date": _dates(pay["day"]), "posted_at": posted.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "attempt_id": attempt_id, "reference_text": self.sim.note(reference),
            "gateway": np.where(method == "card", "stripe", np.where(method == "ach_debit", "bank_ach", "bank")),
        })
        applied_day = pay["day"].to_numpy() + pay["unapplied_days"].to_numpy()
        apps = pd.DataFrame({
            "payment_id": pay["payment_id"], "invoice_id": invoice_id, "applied_amount": pay["applied"].round(2),
            "applied_at": np.where(unapplied, _stamps(applied_day, 15.0), posted.dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
            "day": applied_day,
        })
        apps = apps[(apps["invoice_id"] != "") & (apps["applied_amount"] > 0) & (apps["day"] <= self.end)]
        apps.insert(0, "application_id", self.ids("APP", len(apps)))
        self.tables["payment_applications"] = apps.drop(columns="day").reset_index(drop=True)

    def build_disputes_refunds(self):
        disputes, refunds = self.sim.disputes_and_refunds(self.pay)
        disputes = disputes[disputes["opened_day"] <= self.end].reset_index(drop=True)
        disputes = _sorted(disputes, ["opened_day", "payment_key"])
        currency = self.sim.acc["currency"].to_numpy()
        self.disputes = disputes
        self.tables["disputes"] = pd.DataFrame({
            "dispute_id": self.ids("DSP", len(disputes)), "payment_id": disputes["payment_key"],
            "account_id": self.acc_ids[disputes["account"]], "network": disputes["network"],
            "reason_code": disputes["reason_code"], "amount": disputes["amount"].round(2),
            "currency": currency[disputes["account"]], "opened_at": _stamps(disputes["opened_day"], 16.0),
            "closed_at": np.where(disputes["status"] == "open", "", _stamps(disputes["closed_day"], 16.0)),
            "status": disputes["status"]})
        refunds = _sorted(refunds[refunds["day"] <= self.end], ["day", "payment_key"])
        self.tables["refunds"] = pd.DataFrame({
            "refund_id": self.ids("RF", len(refunds)), "payment_id": refunds["payment_key"],
            "account_id": self.acc_ids[refunds["account"]], "amount": refunds["amount"].round(2),
            "currency": currency[refunds["account"]], "posted_at": _stamps(refunds["day"], 17.0),
            "reason": "Refund of overpayment"})

    def build_credits_writeoffs(self):
        currency = self.sim.acc["currency"].to_numpy()
        cm = self.frame("credit_memos")
        cm = _sorted(cm[cm["day"] <= self.end], ["day", "invoice"])
        self.tables["credit_memos"] = pd.DataFrame({
            "credit_memo_id": self.ids("CM", len(cm)), "account_id": self.acc_ids[cm["account"]],
            "invoice_id": self.map_invoice(cm["invoice"]), "amount": cm["amount"].round(2),
            "currency": currency[cm["account"]], "posted_at": _stamps(cm["day"], cm["hours"]),
            "reason": cm["reason"]})
        wo = self.frame("write_offs")
        lost = self.disputes[self.disputes["status"].isin(["lost", "accepted"])]
        lost_wo = pd.DataFrame({"account": lost["account"], "invoice": lost["invoice"], "amount": lost["amount"],
                                "day": lost["closed_day"] + 45, "hours": 15.0, "reason": "Chargeback lost"})
        wo = pd.concat([wo, lost_wo], ignore_index=True)
        wo = _sorted(wo[wo["day"] <= self.end], ["day", "invoice"])
        self.tables["write_offs"] = pd.DataFrame({
            "write_off_id": self.ids("WO", len(wo)), "account_id": self.acc_ids[wo["account"]],
            "invoice_id": self.map_invoice(wo["invoice"]), "amount": wo["amount"].round(2),
            "currency": currency[wo["account"]], "posted_at": _stamps(wo["day"], wo["hours"]),
            "reason": wo["reason"]})

    def build_plans_promises(self):
        currency = self.sim.acc["currency"].to_numpy()
        plans = self.frame("payment_plans")
        if len(plans):
            plans = _sorted(plans[plans["day"] <= self.end], ["day", "invoice"])
        else:
            plans = pd.DataFrame(columns=["day", "invoice", "account", "amount", "count", "first_due", "pay_day"])
        plans["plan_id"] = self.ids("PLN", len(plans))
        self.tables["payment_plans"] = pd.DataFrame({
            "plan_id": plans["plan_id"], "account_id": self.acc_ids[plans["account"].astype(int)],
            "invoice_ids": self.map_invoice(plans["invoice"]), "agreed_at": _stamps(plans["day"], 17.0),
            "total_amount": plans["amount"].astype(float).round(2), "currency": currency[plans["account"].astype(int)],
            "installment_count": plans["count"].astype(int), "first_due_date": _dates(plans["first_due"]),
            "frequency": "monthly", "status": np.where(plans["pay_day"] <= self.end, "completed", "active")})
        ptp = self.frame("promises_to_pay")
        ptp = _sorted(ptp[ptp["day"] <= self.end], ["day", "hours", "invoice"])
        amount = self.inv.set_index("key")["amount"]
        grace = 3
        kept = (ptp["pay_day"] <= ptp["promised_day"] + grace) & (ptp["pay_day"] <= self.end)
        status = np.where(kept, "kept", np.where(ptp["promised_day"] + grace < self.end, "broken", "open"))
        self.tables["promises_to_pay"] = pd.DataFrame({
            "promise_id": self.ids("PTP", len(ptp)), "account_id": self.acc_ids[ptp["account"]],
            "invoice_id": self.map_invoice(ptp["invoice"]), "plan_id": "",
            "promised_at": _stamps(ptp["day"], ptp["hours"]), "promised_date": _dates(ptp["promised_day"]),
            "promised_amount": amount.reindex(ptp["invoice"]).round(2).to_numpy(),
            "currency": currency[ptp["account"]], "collector": ptp["collector"], "status": status})

    def build_outreach_cases(self):
        out = self.frame("outreach")
        out = _sorted(out[out["day"] <= self.end], ["day", "hours", "account", "channel"])
        self.tables["outreach"] = pd.DataFrame({
            "touch_id": self.ids("TCH", len(out), 9), "account_id": self.acc_ids[out["account"]],
            "invoice_id": self.map_invoice(out["invoice"]), "channel": out["channel"],
            "direction": out["direction"], "template_id": out["template"],
            "touched_at": _stamps(out["day"], out["hours"]), "outcome": out["outcome"],
            "collector": out["collector"], "note": out["note"]})
        cases = self.frame("cases")
        disputes = self.disputes
        dispute_cases = pd.DataFrame({"account": disputes["account"], "invoice": disputes["invoice"],
                                      "case_type": "dispute", "opened_day": disputes["opened_day"],
                                      "closed_day": disputes["closed_day"], "subject": "Chargeback received",
                                      "notes": self.sim.note(["Chargeback received; evidence requested."]
                                                             * len(disputes))})
        cases = pd.concat([cases, dispute_cases], ignore_index=True)
        cases = _sorted(cases[cases["opened_day"] <= self.end], ["opened_day", "account", "case_type"])
        closed = cases["closed_day"] <= self.end
        owner = self.sim.acc["owner"].to_numpy()[cases["account"]]
        self.tables["cases"] = pd.DataFrame({
            "case_id": self.ids("CS", len(cases)), "account_id": self.acc_ids[cases["account"]],
            "invoice_id": self.map_invoice(cases["invoice"]), "case_type": cases["case_type"],
            "opened_at": _stamps(cases["opened_day"], 15.0),
            "closed_at": np.where(closed, _stamps(cases["closed_day"], 20.0), ""),
            "status": np.where(closed, "closed", "working"), "owner": owner, "subject": cases["subject"],
            "notes": cases["notes"]})

    def build_truth(self):
        sim = self.sim
        months = cal.to_dates(sim.month_starts).astype("datetime64[M]").astype(str)
        self.truth["account_state"] = pd.DataFrame({
            "account_id": np.repeat(self.acc_ids, len(months)), "month": np.tile(months, len(self.acc_ids)),
            "health": sim.health.ravel().round(4)})
        fail = self.frame("truth_failures")
        fail = fail[fail["day"] <= self.end].reset_index(drop=True)
        self.truth["failures"] = _sorted(pd.DataFrame({
            "account_id": self.acc_ids[fail["account"]], "invoice_id": self.map_invoice(fail["invoice"]),
            "failed_at": _stamps(fail["day"], fail["hours"]), "kind": fail["kind"], "family": fail["family"],
            "amount": fail["amount"].round(2), "health": fail["health"].round(4),
            "p_not_recovered_30d": fail["p_not_recovered_30d"].round(6)}), ["failed_at", "invoice_id"])
        snap = self.frame("truth_invoice_snapshots")
        snap = snap[snap["snapshot_day"] <= self.end].reset_index(drop=True)
        snap = pd.DataFrame({"invoice_id": self.map_invoice(snap["invoice"]),
                             "snapshot_date": _dates(snap["snapshot_day"]), "kind": snap["kind"],
                             "p_not_paid_30d": snap["p_not_paid_30d"].round(6),
                             "p_open_at_snapshot": snap["p_open_at_snapshot"].round(6)})
        snap = snap[snap["invoice_id"] != ""]
        # An item can carry two curves (invoice issue and a later failure); the latest known state wins.
        self.truth["invoice_snapshots"] = _sorted(
            snap.drop_duplicates(["invoice_id", "snapshot_date"], keep="last"), ["snapshot_date", "invoice_id"])
        days = np.arange(sim.start, sim.start + sim.cash_days)
        rates = self.fx.pivot(index="rate_date", columns="currency", values="rate_to_reporting")
        rates.index = cal.to_days(pd.to_datetime(rates.index).values.astype("datetime64[D]"))
        rates = rates.reindex(days).ffill().bfill()
        total = np.zeros(days.size)
        for i, cur in enumerate(sim.currencies):
            rate = 1.0 if cur == "USD" else rates[cur].to_numpy()
            total += sim.expected_cash[i] * rate
        keep = days <= self.end + 200
        self.truth["expected_cash_daily"] = pd.DataFrame({"date": _dates(days[keep]),
                                                          "expected_cash_reporting": total[keep].round(2)})

def book_manifest(config: BookConfig) -> dict:
    return {"extracted_at": cal.iso(config.end_day + 1) + "T06:00:00Z", "generator": "dunning-desk",
            "seed": config.seed, "accounts": config.accounts, "months": config.months, "end_date": config.end_date,
            "close_timezone": config.close_timezone}


CHUNK_ACCOUNTS = 100_000  # accounts simulated at once: about 2.7 GB of peak memory per chunk


class BookFiles:
    """Append chunks of a book to its files: one file per entity and per truth table, written as chunks arrive.

    The daily expected cash is a sum over accounts, so chunks add into it and it is written at the end.
    """

    def __init__(self, out: Path, fmt: str):
        if fmt not in ("csv", "parquet"):
            raise ValueError(f"unknown format {fmt!r}: csv or parquet")
        self.out, self.fmt = Path(out), fmt
        self.rows: dict[str, int] = {}
        self.parquet: dict[Path, pq.ParquetWriter] = {}
        self.expected_cash: pd.Series | None = None  # by date
        (self.out / "truth").mkdir(parents=True, exist_ok=True)

    def add(self, writer: BookWriter, first: bool):
        for entity in load_contract().entities:
            if entity.name == "fx_rates" and not first:
                continue  # one FX history for the whole book
            frame = writer.tables[entity.name][entity.column_names]
            self.append(frame, self.out / f"{entity.name}.{self.fmt}", first)
            self.rows[entity.name] = self.rows.get(entity.name, 0) + len(frame)
        for name, frame in writer.truth.items():
            if name == "expected_cash_daily":
                cash = frame.set_index("date")["expected_cash_reporting"]
                self.expected_cash = cash if self.expected_cash is None else self.expected_cash.add(cash, fill_value=0)
                continue
            self.append(frame, self.out / "truth" / f"{name}.{self.fmt}", first)

    def append(self, frame: pd.DataFrame, path: Path, first: bool):
        if self.fmt == "csv":
            frame.to_csv(path, index=False, lineterminator="\n", mode="w" if first else "a", header=first)
            return
        table = pa.Table.from_pandas(
            frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object}), preserve_index=False)
        if path not in self.parquet:
            self.parquet[path] = pq.ParquetWriter(path, table.schema)
        writer = self.parquet[path]
        writer.write_table(table.cast(writer.schema))

    def close(self, manifest: dict):
        if self.expected_cash is not None:
            cash = self.expected_cash.round(2).rename("expected_cash_reporting").reset_index()
            self.append(cash, self.out / "truth" / f"expected_cash_daily.{self.fmt}", True)
        for writer in self.parquet.values():
            writer.close()
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def generate_book(out: Path, config: BookConfig, fmt: str = "csv",
                  chunk_accounts: int = CHUNK_ACCOUNTS) -> dict[str, int]:
    """Simulate a book and write its contract files and truth/ into `out`; returns the rows written per file.

    A book larger than `chunk_accounts` is simulated chunk by chunk, so memory stays that of one chunk: chunk 0
    is exactly the book of `config` at that size, later chunks draw from seeds derived from it.
    """
    files = BookFiles(Path(out), fmt)
    next_ids: dict[str, int] = {}
    for chunk, first_account in enumerate(range(0, config.accounts, chunk_accounts)):
        size = min(chunk_accounts, config.accounts - first_account)
        chunk_config = replace(config, accounts=size, seed=config.seed + 7919 * chunk)
        writer = BookWriter(simulate(chunk_config, first_account + 1), next_ids, fx_seed=config.seed + 1).build()
        files.add(writer, first=chunk == 0)
        next_ids = writer.next_ids
        del writer.sim, writer.tables, writer.truth  # free the chunk before simulating the next
    files.close(book_manifest(config))
    return files.rows
