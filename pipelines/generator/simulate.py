"""Seeded simulator of a B2B SaaS receivables book: the raw extracts plus the truth behind them.

Shape of the simulation (one vectorised pass per month over all accounts):
  accounts with a latent, drifting health -> invoices -> collection by billing method
    card auto-pay: first charge, declines by family, the processor's fixed retry schedule, customer fixes
    ACH debit: debit on the due date, NACHA returns, re-presentments on paydays
    net terms (check / wire / other): payment day from a lateness model, rolled to business days or AP runs
  -> payments, applications, outreach, promises, plans, cases, credits, refunds, disputes, write-offs.
Every random outcome is drawn from a probability that behaviour.py computes; that probability is written to
truth/ so models can be compared with the best possible forecaster.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipelines.generator import behaviour as bh
from pipelines.generator import calendar as cal
from pipelines.generator import codes

SEGMENTS = ("smb", "mid_market", "enterprise")
SEGMENT_SHARE = (0.74, 0.21, 0.05)
MRR_MEDIAN = {"smb": 320.0, "mid_market": 3200.0, "enterprise": 24000.0}
ANNUAL_SHARE = {"smb": 0.08, "mid_market": 0.18, "enterprise": 0.3}
BILLING_METHODS = ("card_autopay", "ach_debit", "check", "wire", "other")
METHOD_MIX = {
    "smb": (0.80, 0.12, 0.04, 0.02, 0.02),
    "mid_market": (0.35, 0.30, 0.15, 0.17, 0.03),
    "enterprise": (0.05, 0.30, 0.20, 0.42, 0.03),
}
TERMS_DAYS = {"due_on_receipt": 0, "net_15": 15, "net_30": 30, "net_45": 45, "net_60": 60}
TERMS_MIX = {  # for invoiced (non-card) accounts
    "smb": {"net_15": 0.4, "net_30": 0.6},
    "mid_market": {"net_30": 0.7, "net_45": 0.2, "net_60": 0.1},
    "enterprise": {"net_30": 0.35, "net_45": 0.35, "net_60": 0.3},
}
COUNTRIES = [  # (country, currency, tax rate, share)
    ("US", "USD", 0.06, 0.72), ("CA", "CAD", 0.05, 0.05), ("GB", "GBP", 0.20, 0.08),
    ("DE", "EUR", 0.19, 0.05), ("FR", "EUR", 0.20, 0.03), ("NL", "EUR", 0.21, 0.02), ("IE", "EUR", 0.23, 0.01),
    ("AU", "AUD", 0.10, 0.04),
]
FX_START = {"EUR": 1.08, "GBP": 1.27, "CAD": 0.74, "AUD": 0.66}
INDUSTRIES = ("software", "healthcare", "financial services", "retail", "manufacturing", "education", "media",
              "logistics", "professional services", "real estate")
NAME_A = ("Acme", "Blue", "Cedar", "Delta", "Ember", "Falcon", "Granite", "Harbor", "Iris", "Juniper", "Kestrel",
          "Lumen", "Maple", "Nimbus", "Orchid", "Pioneer", "Quartz", "Redwood", "Summit", "Tidal", "Umber",
          "Vertex", "Willow", "Xenon", "Yarrow", "Zenith")
NAME_B = ("Analytics", "Labs", "Logistics", "Health", "Foods", "Robotics", "Media", "Partners", "Systems",
          "Dynamics", "Networks", "Studios", "Works", "Capital", "Learning", "Energy")
NAME_C = ("Inc", "LLC", "Ltd", "GmbH", "Co", "Group", "PLC", "Pty")
COLLECTOR_NAMES = ("Ana Ruiz", "Ben Okafor", "Chloe Martin", "Dev Patel", "Emma Schultz", "Farid Haddad",
                   "Grace Kim", "Hugo Laurent", "Ines Costa", "Jonas Berg", "Keiko Sato", "Liam Walsh",
                   "Maya Cohen", "Noah Fischer", "Olivia Brown", "Priya Nair")

RETRY_SCHEDULE_DAYS = (1, 3, 5, 8, 11, 14)  # the processor's fixed policy: 6 retries over two weeks
LEGACY_DAILY_RETRIES = 20  # a mis-configured legacy gateway retries daily: > 15 in 30 days (Visa violation)
MAX_RETRIES = LEGACY_DAILY_RETRIES
HORIZON = 181  # days an episode is followed after its failure
CLOSE_TZ = "America/New_York"


@dataclass(frozen=True)
class BookConfig:
    accounts: int = 2000
    months: int = 24
    seed: int = 7
    end_date: str = "2026-10-31"
    close_timezone: str = CLOSE_TZ
    pan_share: float = 0.004  # share of free-text notes in which an agent pasted a card number

    @property
    def end_day(self) -> int:
        return int(cal.to_days(self.end_date))

    @property
    def start_day(self) -> int:
        end_month = np.datetime64(self.end_date, "M")
        return int(cal.to_days((end_month - (self.months - 1)).astype("datetime64[D]")))


class Events:
    """Column-wise accumulator of simulated rows for one table."""

    def __init__(self):
        self.parts: list[dict[str, np.ndarray]] = []

    def add(self, **columns):
        n = {len(np.atleast_1d(v)) for v in columns.values() if np.ndim(v) > 0}
        if not n or max(n) == 0:
            return
        size = max(n)
        self.parts.append({k: (np.full(size, v) if np.ndim(v) == 0 else np.asarray(v)) for k, v in columns.items()})

    def frame(self, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in columns})
        keys = list(self.parts[0])
        return pd.DataFrame({k: np.concatenate([p[k] for p in self.parts]) for k in keys})


def _luhn_number(rng: np.random.Generator, prefix: str, length: int) -> str:
    digits = [int(c) for c in prefix] + list(rng.integers(0, 10, length - len(prefix) - 1))
    total = 0
    for i, d in enumerate(reversed(digits)):
        d = d * 2 if i % 2 == 0 else d
        total += d - 9 if d > 9 else d
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


def planted_card_number(rng: np.random.Generator) -> str:
    """A Luhn-valid card number as an agent might paste it: plain, spaced or dashed."""
    prefix, length = [("4", 16), ("51", 16), ("37", 15), ("6011", 16)][rng.integers(0, 4)]
    number = _luhn_number(rng, prefix, length)
    style = rng.integers(0, 3)
    if style == 0 or length != 16:
        return number
    sep = " " if style == 1 else "-"
    return sep.join(number[i : i + 4] for i in range(0, 16, 4))


class Simulator:
    def __init__(self, config: BookConfig, first_account: int = 1):
        self.cfg = config
        self.first_account = first_account  # a chunk of a larger book numbers its accounts on from the last
        self.rng = np.random.default_rng(config.seed)
        self.start, self.end = config.start_day, config.end_day
        years = (int(cal.iso(self.start - 2400)[:4]), int(cal.iso(self.end + HORIZON + 400)[:4]))
        self.open_days = {c: cal.business_days(c, *years) for c in set(cal.CURRENCY_CALENDAR.values())}
        self.ap_days = {c: cal.ap_run_days(d) for c, d in self.open_days.items()}
        self.month_starts = cal.to_days(
            np.arange(np.datetime64(cal.iso(self.start), "M"), np.datetime64(cal.iso(self.end), "M") + 1)
        )
        self.month_ends = cal.month_end(self.month_starts)
        self.t = {name: Events() for name in (
            "invoices", "payment_attempts", "payments", "payment_applications", "ach_returns", "disputes",
            "credit_memos", "refunds", "write_offs", "payment_plans", "promises_to_pay", "outreach", "cases",
            "truth_failures", "truth_invoice_snapshots")}
        self.currencies = sorted({c[1] for c in COUNTRIES})
        self.cash_days = self.end - self.start + HORIZON + 400
        self.expected_cash = np.zeros((len(self.currencies), self.cash_days))

    # ------------------------------------------------------------------ accounts and health
    def make_accounts(self):
        rng, n = self.rng, self.cfg.accounts
        seg = rng.choice(3, n, p=SEGMENT_SHARE)
        segment = np.array(SEGMENTS)[seg]
        country_idx = rng.choice(len(COUNTRIES), n, p=[c[3] for c in COUNTRIES])
        country = np.array([c[0] for c in COUNTRIES])[country_idx]
        currency = np.array([c[1] for c in COUNTRIES])[country_idx]
        tax_rate = np.array([c[2] for c in COUNTRIES])[country_idx]
        method = np.empty(n, dtype=object)
        for s in SEGMENTS:
            rows = segment == s
            method[rows] = np.array(BILLING_METHODS)[rng.choice(5, rows.sum(), p=METHOD_MIX[s])]
        method[(method == "ach_debit") & (currency != "USD")] = "wire"  # ACH is a US rail
        terms = np.full(n, "due_on_receipt", dtype=object)
        for s in SEGMENTS:
            rows = (segment == s) & (method != "card_autopay")
            options = list(TERMS_MIX[s])
            terms[rows] = np.array(options)[rng.choice(len(options), rows.sum(), p=list(TERMS_MIX[s].values()))]
        mrr = np.array([MRR_MEDIAN[s] for s in segment]) * np.exp(rng.normal(0, 0.75, n))
        annual = rng.random(n) < np.array([ANNUAL_SHARE[s] for s in segment])
        window = self.end - self.start
        joined_late = rng.random(n) < 0.15
        created = np.where(joined_late, self.start + rng.integers(0, max(window - 20, 1), n),
                           self.start - rng.integers(30, 2200, n))
        n_collectors = int(np.clip(n // 220, 3, len(COLLECTOR_NAMES)))
        owner = np.array(COLLECTOR_NAMES[:n_collectors])[rng.integers(0, n_collectors, n)]
        names = [f"{NAME_A[a]} {NAME_B[b]} {NAME_C[c]}" for a, b, c in zip(
            rng.integers(0, len(NAME_A), n), rng.integers(0, len(NAME_B), n), rng.integers(0, len(NAME_C), n),
            strict=True)]
        months = len(self.month_starts)
        mu = rng.normal(0, 0.9, n)
        drift = np.where(rng.random(n) < 0.08, -0.07, np.where(rng.random(n) < 0.05, 0.05, 0.0))
        health = np.empty((n, months))
        h = mu + rng.normal(0, 0.5, n)
        for m in range(months):
            health[:, m] = h
            h = mu + drift * (m + 1) + 0.85 * (h - mu - drift * m) + rng.normal(0, 0.3, n)
        churn_month = np.where(rng.random(n) < 1 - (1 - np.where(segment == "smb", 0.008, 0.004)) ** months,
                               rng.integers(1, months + 1, n), months + 10)
        # Cards: brand, last four, expiry as a month index (year * 12 + month - 1).
        brand = np.array([b for b, _ in codes.CARD_BRANDS])[codes.pick(rng, codes.CARD_BRANDS, n)]
        start_month_index = int(cal.iso(self.start)[:4]) * 12 + int(cal.iso(self.start)[5:7]) - 1
        card_exp = start_month_index + rng.integers(-2, 48, n)
        self.acc = pd.DataFrame({
            "account_id": [f"ACC-{i:07d}" for i in range(self.first_account, self.first_account + n)],
            "account_name": names,
            "segment": segment,
            "industry": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), n)],
            "country": country,
            "currency": currency,
            "payment_terms": terms,
            "billing_method": method,
            "owner": owner,
            "credit_limit_amount": np.round(mrr * 3, -2),
            "created_day": created,
        })
        self.mrr, self.annual, self.tax_rate = mrr, annual, tax_rate
        self.health, self.mu, self.churn_month = health, mu, churn_month
        self.brand, self.card_exp = brand, card_exp
        self.last4 = rng.integers(0, 10000, n)
        # Paying on accounts-payable runs is a company's policy, so a trait of the account, not of one invoice.
        self.ap_run_payer = rng.random(n) < np.where(segment == "enterprise", 0.6,
                                                     np.where(segment == "mid_market", 0.3, 0.0))
        self.calendar = np.array([cal.CURRENCY_CALENDAR[c] for c in currency])
        self.canceled_day = np.full(n, np.iinfo(np.int64).max)
        self.start_month_index = start_month_index

    # ------------------------------------------------------------------ helpers
    def roll(self, days, account_idx, ap_runs=None):
        """Move days to the next business day of each account's calendar (or next AP run where flagged)."""
        out = np.asarray(days).copy()
        for country, open_days in self.open_days.items():
            rows = self.calendar[account_idx] == country
            if ap_runs is not None:
                ap = rows & ap_runs
                out[ap] = cal.roll_forward(out[ap], self.ap_days[country])
                rows = rows & ~ap_runs
            out[rows] = cal.roll_forward(out[rows], open_days)
        return out

    def latest_open(self, days, account_idx, ap_runs):
        out = np.asarray(days).copy()
        for country, open_days in self.open_days.items():
            rows = self.calendar[account_idx] == country
            ap = rows & ap_runs
            out[ap] = cal.last_open_on_or_before(out[ap], self.ap_days[country])
            out[rows & ~ap_runs] = cal.last_open_on_or_before(out[rows & ~ap_runs], open_days)
        return out

    def health_at(self, account_idx, days):
        m = np.searchsorted(self.month_starts, days, side="right") - 1
        return self.health[account_idx, np.clip(m, 0, self.health.shape[1] - 1)]

    def timestamp(self, days, hours):
        """Day numbers + fractional UTC hours -> numpy datetime64[s]."""
        seconds = (np.asarray(days, dtype=np.int64) * 86400 + np.round(np.asarray(hours) * 3600).astype(np.int64))
        return seconds.astype("datetime64[s]")

    def note(self, texts):
        """Sprinkle pasted card numbers into a small share of free-text notes, as real agents do."""
        texts = np.asarray(texts, dtype=object)
        hit = np.flatnonzero(self.rng.random(len(texts)) < self.cfg.pan_share)
        for i in hit:
            texts[i] = f"{texts[i]} Customer read out card {planted_card_number(self.rng)} on the call."
        return texts

    # ------------------------------------------------------------------ the month loop
    def run(self):
        self.make_accounts()
        acc = self.acc
        billing_day = np.minimum(cal.day_of_month(acc["created_day"].to_numpy()), 28)
        for m, month_start in enumerate(self.month_starts):
            inv_day = month_start + billing_day - 1
            created = acc["created_day"].to_numpy()
            active = (created <= inv_day) & (m < self.churn_month) & (inv_day < self.canceled_day)
            anniversary = cal.to_dates(created).astype("datetime64[M]").astype(np.int64) % 12 == (
                (self.start_month_index + m) % 12)
            bill = active & (~self.annual | anniversary) & (inv_day <= self.end)
            idx = np.flatnonzero(bill)
            if idx.size:
                self.bill_month(m, idx, inv_day[idx])

    def bill_month(self, m, idx, inv_day):
        rng, acc = self.rng, self.acc
        n = idx.size
        months_billed = np.where(self.annual[idx], 12, 1)
        subtotal = np.round(self.mrr[idx] * months_billed * np.clip(rng.normal(1, 0.08, n), 0.6, 1.6), 2)
        tax = np.round(subtotal * self.tax_rate[idx], 2)
        amount = subtotal + tax
        terms = acc["payment_terms"].to_numpy()[idx]
        due_day = inv_day + np.array([TERMS_DAYS[t] for t in terms])
        void = rng.random(n) < 0.008
        inv_keys = np.array([f"{m:03d}-{i:07d}" for i in idx])  # sortable until ids are assigned
        self.t["invoices"].add(
            key=inv_keys, account=idx, invoice_day=inv_day, due_day=due_day,
            posted_hours=rng.uniform(5, 9, n), currency=acc["currency"].to_numpy()[idx], amount=amount,
            tax_amount=tax, status=np.where(void, "void", "posted"), period_start=inv_day,
            period_end=inv_day + np.where(self.annual[idx], 365, 30) - 1,
        )
        live = ~void
        idx, inv_day, due_day, amount, inv_keys = idx[live], inv_day[live], due_day[live], amount[live], inv_keys[live]
        # Credit memos (pricing / tax corrections) reduce what the customer owes before collection.
        credited = rng.random(idx.size) < 0.004
        credit = np.where(credited, np.round(amount * rng.uniform(0.1, 0.5, idx.size), 2), 0.0)
        if credited.any():
            c = np.flatnonzero(credited)
            memo_day = inv_day[c] + rng.integers(2, 12, c.size)
            reason_kind = rng.choice(["pricing_correction", "tax_correction", "credit_correction"], c.size)
            self.t["credit_memos"].add(account=idx[c], invoice=inv_keys[c], amount=credit[c], day=memo_day,
                                       hours=rng.uniform(14, 22, c.size),
                                       reason=np.char.replace(reason_kind.astype(str), "_", " "))
            self.t["cases"].add(account=idx[c], invoice=inv_keys[c], case_type=reason_kind,
                                opened_day=inv_day[c] + 1, closed_day=memo_day, subject="Invoice correction request",
                                notes=self.note(["Customer asked to correct the invoice; credit approved."] * c.size))
        due_amount = np.round(amount - credit, 2)
        method = self.acc["billing_method"].to_numpy()[idx]
        card = method == "card_autopay"
        ach = method == "ach_debit"
        terms_rows = ~card & ~ach
        if card.any():
            self.collect_card(idx[card], inv_keys[card], inv_day[card], due_amount[card])
        if ach.any():
            self.collect_ach(idx[ach], inv_keys[ach], inv_day[ach], due_day[ach], due_amount[ach])
        if terms_rows.any():
            self.collect_terms(idx[terms_rows], inv_keys[terms_rows], inv_day[terms_rows], due_day[terms_rows],
                               due_amount[terms_rows], method[terms_rows])

    # ------------------------------------------------------------------ card auto-pay
    def collect_card(self, idx, inv, day, amount):
        rng = self.rng
        n = idx.size
        h = self.health_at(idx, day)
        month_index = self.start_month_index + np.searchsorted(self.month_starts, day, side="right") - 1
        expired = self.card_exp[idx] < month_index
        # Some customers replace an expired card before the charge; the rest hit an expired_card decline.
        updated_early = expired & (rng.random(n) < bh.sigmoid(0.3 + 0.8 * h))
        self.replace_cards(idx[updated_early], month_index[updated_early])
        if updated_early.any():
            self.t["outreach"].add(account=idx[updated_early], invoice="", channel="portal", direction="inbound",
                                   template="", day=day[updated_early] - rng.integers(1, 20, updated_early.sum()),
                                   hours=rng.uniform(13, 23, updated_early.sum()), outcome="payment_method_updated",
                                   collector="", note="Card details updated in the self-serve portal")
        expired &= ~updated_early
        hour = rng.uniform(8, 12, n)
        fails = expired | (rng.random(n) < bh.first_attempt_failure_probability(h))
        ok = ~fails
        self.expect_cash(idx[ok], day[ok], amount[ok])
        self.card_attempt(idx[ok], inv[ok], day[ok], hour[ok], amount[ok], 1, "succeeded", "", "", "")
        self.card_payment(idx[ok], inv[ok], day[ok], hour[ok], amount[ok], attempt_number=np.ones(ok.sum(), int))
        f = np.flatnonzero(fails)
        if f.size:
            families = np.where(expired[f], "expired_card", "").astype(object)
            pick = families == ""
            weights = bh.family_weights(h[f][pick])
            cum = weights.cumsum(axis=1)
            choice = (rng.random((pick.sum(), 1)) > cum).sum(axis=1)
            families[pick] = np.array(list(bh.FAMILY_MIX))[choice]
            self.card_episode(idx[f], inv[f], day[f], hour[f], amount[f], h[f], families)

    def replace_cards(self, idx, month_index):
        self.card_exp[idx] = month_index + self.rng.integers(24, 60, idx.size)
        self.last4[idx] = self.rng.integers(0, 10000, idx.size)

    def decline_codes(self, families, brands):
        rng = self.rng
        n = len(families)
        decline, response, advice = (np.empty(n, dtype=object) for _ in range(3))
        for fam in np.unique(families):
            rows = np.flatnonzero(families == fam)
            options = codes.CARD_DECLINE_CODES[fam]
            k = codes.pick(rng, options, rows.size)
            decline[rows] = np.array([o[0] for o in options])[k]
            response[rows] = np.array([o[1] for o in options])[k]
            advice_options = codes.MASTERCARD_ADVICE[fam]
            a = np.array([o[0] for o in advice_options])[codes.pick(rng, advice_options, rows.size)]
            advice[rows] = np.where(brands[rows] == "mastercard", a, "")
        return decline, response, advice

    def card_attempt(self, idx, inv, day, hour, amount, number, outcome, decline, response, advice,
                     customer=False):
        if np.size(idx) == 0:
            return
        exp = self.card_exp[idx]
        self.t["payment_attempts"].add(
            account=idx, invoice=inv, day=day, hours=hour, amount=amount, method="card", outcome=outcome,
            decline_code=decline, response_code=response, advice_code=advice, card_brand=self.brand[idx],
            card_last4=np.char.zfill(self.last4[idx].astype(str), 4), card_exp_month=exp % 12 + 1,
            card_exp_year=exp // 12, attempt_number=number, customer=customer, gateway="stripe",
        )

    def card_payment(self, idx, inv, day, hour, amount, attempt_number, method="card"):
        if np.size(idx) == 0:
            return
        self.t["payments"].add(account=idx, invoice=inv, day=day, hours=hour + 0.05, amount=amount, method=method,
                               attempt_number=attempt_number, applied=amount)

    def card_episode(self, idx, inv, day, hour, amount, h, families):
        """Follow each failed charge: retries on the fixed schedule, customer fixes, late collection."""
        rng = self.rng
        e = idx.size
        brands = self.brand[idx]
        decline, response, advice = self.decline_codes(families, brands)
        self.card_attempt(idx, inv, day, hour, amount, 1, "failed", decline, response, advice)
        # The processor follows the rules it knows: no retries of hard declines or Mastercard "never" advice.
        hard = np.isin(families, bh.HARD_FAMILIES) | np.isin(advice, ("03", "21"))
        # The processor's retry times (days after the failure); mistakes give the compliance checks work.
        legacy = ~hard & (rng.random(e) < 0.004)
        hard_retried = hard & (rng.random(e) < 0.03)
        times = np.full((e, MAX_RETRIES), np.nan)
        normal = (~hard & ~legacy) | hard_retried
        times[normal, : len(RETRY_SCHEDULE_DAYS)] = np.array(RETRY_SCHEDULE_DAYS, float)
        times[legacy, :] = np.arange(1, LEGACY_DAILY_RETRIES + 1, dtype=float)
        # Batch runs fire at varying hours (up to six hours either side of the failure's time of day).
        times += np.where(np.isnan(times), 0, rng.uniform(-0.25, 0.25, times.shape))
        times = np.where(np.isnan(times), np.nan, np.maximum(times, 1 / 24))
        retry_day = np.floor(day[:, None] + (hour[:, None] / 24) + times)
        retry_hour = ((hour[:, None] / 24 + times) % 1) * 24
        k = np.tile(np.arange(1, MAX_RETRIES + 1), (e, 1))
        valid = ~np.isnan(times)
        p_retry = np.zeros((e, MAX_RETRIES))
        rows, cols = np.nonzero(valid)
        p_retry[rows, cols] = bh.retry_success_probability(
            families[rows], h[rows], times[rows, cols], retry_day[rows, cols].astype(np.int64),
            retry_hour[rows, cols], k[rows, cols])
        retry_ok = valid & (rng.random((e, MAX_RETRIES)) < p_retry)
        first_ok = np.where(retry_ok.any(axis=1), retry_ok.argmax(axis=1), -1)
        retry_success_t = np.where(first_ok >= 0, times[np.arange(e), np.maximum(first_ok, 0)], np.inf)
        # Customer fixes: a daily hazard, boosted on the dunning touch days.
        d = np.arange(bh.RECOVERY_WINDOW_DAYS)
        lam = bh.customer_fix_hazard(families, h, np.tile(d, (e, 1)))
        fix = rng.random(lam.shape) < lam
        fix_day = np.where(fix.any(axis=1), fix.argmax(axis=1), np.inf)
        fix_t = fix_day + rng.uniform(0.05, 0.6, e)
        # Truth: P(not recovered within 30 days), exact under this model.
        in_window = valid & (times < bh.RECOVERY_WINDOW_DAYS)
        p_not = np.prod(np.where(in_window, 1 - p_retry, 1.0), axis=1) * np.prod(1 - lam, axis=1)
        late_p = bh.late_recovery_probability(h)
        late_pay = rng.random(e) < late_p
        late_t = rng.integers(31, 121, e) + rng.uniform(0.3, 0.7, e)
        rec_t = np.minimum(retry_success_t, fix_t)
        recovered = np.isfinite(rec_t) & (rec_t < bh.RECOVERY_WINDOW_DAYS)
        how = np.where(~recovered, "none", np.where(retry_success_t <= fix_t, "retry", "customer"))
        self.record_episode_truth(idx, inv, day, hour, amount, "card", families, p_not, times, p_retry, lam,
                                  late_p, h)
        # Emit the failed retries before recovery (or all of them), then the recovery.
        stop_t = np.where(recovered, rec_t, np.inf)
        emit = valid & (times < stop_t[:, None]) & ~retry_ok
        r, c = np.nonzero(emit)
        self.card_attempt(idx[r], inv[r], retry_day[r, c].astype(np.int64), retry_hour[r, c], amount[r], c + 2,
                          "failed", decline[r], response[r], advice[r])
        by_retry = how == "retry"
        r = np.flatnonzero(by_retry)
        c = first_ok[r]
        self.card_attempt(idx[r], inv[r], retry_day[r, c].astype(np.int64), retry_hour[r, c], amount[r], c + 2,
                          "succeeded", "", "", "")
        self.card_payment(idx[r], inv[r], retry_day[r, c].astype(np.int64), retry_hour[r, c], amount[r], c + 2)
        by_customer = how == "customer"
        self.customer_fix(idx[by_customer], inv[by_customer], day[by_customer], fix_t[by_customer],
                          amount[by_customer], emit[by_customer].sum(axis=1) + 2)
        # Unrecovered after 30 days: the subscription is cancelled; collections may still get paid.
        lost = ~recovered
        self.canceled_day[idx[lost]] = np.minimum(self.canceled_day[idx[lost]], day[lost] + 30)
        late = lost & late_pay
        lt = day[late] + np.floor(late_t[late]).astype(np.int64)
        self.t["payments"].add(account=idx[late], invoice=inv[late], day=self.roll(lt, idx[late]),
                               hours=rng.uniform(14, 21, late.sum()), amount=amount[late],
                               method=np.where(self.acc["segment"].to_numpy()[idx[late]] == "smb", "card", "wire"),
                               attempt_number=0, applied=amount[late])
        wo = lost & ~late_pay
        self.t["write_offs"].add(account=idx[wo], invoice=inv[wo], amount=amount[wo],
                                 day=day[wo] + rng.integers(120, 181, wo.sum()), hours=rng.uniform(14, 22, wo.sum()),
                                 reason="Uncollectible after failed card payments")
        self.dunning_touches(idx, inv, day, np.where(recovered, rec_t, late_t), families, decline)

    def customer_fix(self, idx, inv, day, fix_t, amount, attempt_number):
        """The customer updates the card in the portal and pays on-session, or pays another way."""
        rng = self.rng
        if idx.size == 0:
            return
        pay_day = day + np.floor(fix_t).astype(np.int64)
        hour = (fix_t % 1) * 24 + 8
        other_way = rng.random(idx.size) < np.where(self.acc["segment"].to_numpy()[idx] == "smb", 0.08, 0.35)
        by_card = ~other_way
        month_index = self.start_month_index + np.searchsorted(self.month_starts, pay_day, side="right") - 1
        self.replace_cards(idx[by_card], month_index[by_card])
        self.t["outreach"].add(account=idx[by_card], invoice=inv[by_card], channel="portal", direction="inbound",
                               template="", day=pay_day[by_card], hours=hour[by_card] - 0.1,
                               outcome="payment_method_updated", collector="",
                               note="Card details updated in the self-serve portal")
        self.card_attempt(idx[by_card], inv[by_card], pay_day[by_card], hour[by_card], amount[by_card],
                          attempt_number[by_card], "succeeded", "", "", "", customer=True)
        self.card_payment(idx[by_card], inv[by_card], pay_day[by_card], hour[by_card], amount[by_card],
                          attempt_number[by_card])
        o = np.flatnonzero(other_way)
        self.t["payments"].add(account=idx[o], invoice=inv[o], day=self.roll(pay_day[o], idx[o]),
                               hours=rng.uniform(14, 21, o.size), amount=amount[o], method="wire",
                               attempt_number=0, applied=amount[o])
        case = by_card & (rng.random(idx.size) < 0.2)
        self.t["cases"].add(account=idx[case], invoice=inv[case], case_type="payment_method_update",
                            opened_day=pay_day[case] - 1, closed_day=pay_day[case],
                            subject="Help updating the card on file",
                            notes=self.note(["Sent the self-serve update link; customer updated the card."]
                                            * int(case.sum())))

    def record_episode_truth(self, idx, inv, day, hour, amount, kind, families, p_not, times, p_retry, lam,
                             late_p, h):
        """Keep the true 30-day non-recovery chance and the survival curve used for month-end snapshots."""
        self.t["truth_failures"].add(account=idx, invoice=inv, day=day, hours=hour, kind=kind, family=families,
                                     amount=amount, health=h, p_not_recovered_30d=p_not)
        self.snapshot_truth(idx, inv, day, amount, episode_survival(times, p_retry, lam, late_p), kind)

    def snapshot_truth(self, idx, inv, start_day, amount, surv, kind, oracle_cash=True):
        """P(not paid within 30 days | open at month end) for every month end the item may be open at.

        Also adds the item's expected cash by day (amount x chance of being paid that day) to the oracle.
        """
        if oracle_cash:
            paid_on = -np.diff(np.concatenate([np.ones((len(idx), 1)), surv], axis=1), axis=1)
            days = start_day[:, None] + np.arange(HORIZON)[None, :]
            self.expect_cash(idx, days, paid_on * amount[:, None])
        for me in self.month_ends:
            offset = me - start_day  # whole days since the failure (or issue) at the snapshot
            rows = np.flatnonzero((offset >= 0) & (offset + 30 < HORIZON))
            if rows.size == 0:
                continue
            s_now = surv[rows, offset[rows]]
            s_30 = surv[rows, offset[rows] + 30]
            keep = s_now > 1e-9
            self.t["truth_invoice_snapshots"].add(
                invoice=inv[rows][keep], snapshot_day=me, kind=kind,
                p_not_paid_30d=np.clip(s_30[keep] / s_now[keep], 0, 1),
                p_open_at_snapshot=s_now[keep])

    def expect_cash(self, idx, days, amounts):
        """Add expected receipts (document currency) to the oracle's daily totals."""
        cur = np.searchsorted(self.currencies, self.acc["currency"].to_numpy()[idx])
        days = np.asarray(days) - self.start
        if days.ndim == 2:
            cur = np.repeat(cur, days.shape[1])
        days, amounts = days.ravel(), np.asarray(amounts).ravel()
        keep = (days >= 0) & (days < self.cash_days)
        flat = cur[keep] * self.cash_days + days[keep]
        self.expected_cash += np.bincount(flat, weights=amounts[keep],
                                          minlength=self.expected_cash.size).reshape(self.expected_cash.shape)

    def dunning_touches(self, idx, inv, day, resolved_t, families, decline):
        """Failed-payment emails on days 0, 3, 7 and 14 and a collector call on day 7, while unresolved."""
        rng = self.rng
        owner = self.acc["owner"].to_numpy()[idx]
        h = self.health_at(idx, day)
        template = np.where(np.isin(families, ("expired_card", "invalid_card_data", "lost_stolen_fraud")),
                            "tpl_card_update_request",
                            np.where(families == "authentication_required", "tpl_authenticate_payment",
                                     np.where(families == "do_not_honor", "tpl_contact_issuer",
                                              "tpl_payment_failed_retry")))
        for offset in bh.OUTREACH_DAYS:
            rows = np.flatnonzero(resolved_t > offset)
            n = rows.size
            bounced = rng.random(n) < 0.03
            replied = ~bounced & (rng.random(n) < bh.sigmoid(-1.6 + 0.9 * h[rows]))
            outcome = np.where(bounced, "bounced", np.where(replied, "replied", "delivered"))
            tpl = np.where(offset >= 14, "tpl_account_escalation", template[rows])
            self.t["outreach"].add(account=idx[rows], invoice=inv[rows], channel="email", direction="outbound",
                                   template=tpl, day=day[rows] + offset, hours=rng.uniform(13, 16, n),
                                   outcome=outcome, collector="", note="")
        rows = np.flatnonzero(resolved_t > 7)
        self.calls(idx[rows], inv[rows], day[rows] + 7, owner[rows], h[rows], None)

    def calls(self, idx, inv, call_day, owner, h, pay_day):
        """Collector calls; right-party contacts may yield a promise to pay, kept if the money comes in time."""
        rng = self.rng
        n = idx.size
        if n == 0:
            return
        rpc = rng.random(n) < bh.sigmoid(-0.4 + 0.8 * h)
        no_answer = ~rpc & (rng.random(n) < 0.6)
        outcome = np.where(rpc, "right_party_contact", np.where(no_answer, "no_answer", "voicemail"))
        promise = rpc & (rng.random(n) < 0.55) if pay_day is not None else np.zeros(n, bool)
        outcome = np.where(promise, "promise_made", outcome)
        text = np.where(rpc, "Spoke with accounts payable about the overdue balance.",
                        np.where(no_answer, "No answer.", "Left a voicemail asking for a call back."))
        self.t["outreach"].add(account=idx, invoice=inv, channel="phone", direction="outbound",
                               template="tpl_collections_call", day=call_day, hours=rng.uniform(14, 21, n),
                               outcome=outcome, collector=owner, note=self.note(text))
        if promise.any():
            p = np.flatnonzero(promise)
            # Honest promisers name the day they will really pay; the others promise too soon and break it.
            honest = rng.random(p.size) < bh.sigmoid(0.9 + 0.8 * h[p])
            promised = np.where(honest & (pay_day[p] < call_day[p] + 120),
                                np.maximum(call_day[p] + 1, pay_day[p] - rng.integers(0, 4, p.size)),
                                call_day[p] + rng.integers(3, 15, p.size))
            self.t["promises_to_pay"].add(account=idx[p], invoice=inv[p], day=call_day[p],
                                          hours=rng.uniform(14, 21, p.size), promised_day=promised,
                                          pay_day=pay_day[p], collector=owner[p])

    # ------------------------------------------------------------------ ACH debit
    def ach_invoice_truth(self, idx, inv, inv_day, debit_day, amount, h, p_return):
        """Truth for ACH invoices before their debit: paid the day after the debit unless returned; a return
        then follows the episode survival (mixed over retryable and final return codes)."""
        none = np.zeros(idx.size, bool)
        share_retryable = sum(w for c, w in codes.ACH_RETURN_CODES if c in codes.ACH_RETRYABLE)
        mixed = 0.0
        for retryable, weight in ((~none, share_retryable), (none, 1 - share_retryable)):
            times, p, lam = self.ach_schedule(idx, debit_day, h, retryable, none)
            mixed = mixed + weight * episode_survival(times, p, lam, bh.late_recovery_probability(h))
        settle_offset = self.roll(debit_day + 1, idx) - inv_day
        since_debit = np.arange(HORIZON)[None, :] - (debit_day - inv_day)[:, None]
        after_fail = np.take_along_axis(mixed, np.clip(since_debit, 0, HORIZON - 1), axis=1)
        surv = np.where(np.arange(HORIZON)[None, :] < settle_offset[:, None], 1.0, p_return[:, None] * after_fail)
        self.snapshot_truth(idx, inv, inv_day, amount, surv, "ach_invoice", oracle_cash=False)

    def collect_ach(self, idx, inv, inv_day, due, amount):
        rng = self.rng
        n = idx.size
        debit_day = self.roll(due, idx)
        h = self.health_at(idx, debit_day)
        p_return = bh.ach_return_probability(h)
        returned = rng.random(n) < p_return
        self.ach_invoice_truth(idx, inv, inv_day, debit_day, amount, h, p_return)
        ok = ~returned
        self.ach_attempt(idx[ok], inv[ok], debit_day[ok], amount[ok], 1, "succeeded")
        settle = self.roll(debit_day[ok] + 1, idx[ok])
        self.expect_cash(idx[ok], settle, amount[ok])
        self.t["payments"].add(account=idx[ok], invoice=inv[ok], day=settle, hours=rng.uniform(12, 16, ok.sum()),
                               amount=amount[ok], method="ach_debit", attempt_number=1, applied=amount[ok])
        r = np.flatnonzero(returned)
        if r.size == 0:
            return
        code_idx = codes.pick(rng, codes.ACH_RETURN_CODES, r.size)
        code = np.array([c for c, _ in codes.ACH_RETURN_CODES])[code_idx]
        self.ach_attempt(idx[r], inv[r], debit_day[r], amount[r], 1, "failed", return_code=code,
                         return_day=self.roll(debit_day[r] + 2, idx[r]))
        self.ach_episode(idx[r], inv[r], debit_day[r], amount[r], h[r], code)

    def ach_attempt(self, idx, inv, day, amount, number, outcome, return_code=None, return_day=None):
        if np.size(idx) == 0:
            return
        self.t["payment_attempts"].add(
            account=idx, invoice=inv, day=day, hours=10.0, amount=amount, method="ach_debit", outcome=outcome,
            decline_code="", response_code="", advice_code="", card_brand="", card_last4="", card_exp_month=0,
            card_exp_year=0, attempt_number=number, customer=False, gateway="bank_ach",
        )
        if return_code is not None:
            # The return is linked to the attempt by (account, invoice, attempt_number) until ids exist.
            self.t["ach_returns"].add(account=idx, invoice=inv, attempt_number=number, code=return_code,
                                      day=return_day)

    def ach_episode(self, idx, inv, day, amount, h, code):
        """R01/R09 returns are re-presented on the next two paydays; others need new bank details."""
        rng = self.rng
        e = idx.size
        retryable = np.isin(code, codes.ACH_RETRYABLE)
        too_many = retryable & (rng.random(e) < 0.03)  # a third re-presentment: a NACHA violation to find
        times, p, lam = self.ach_schedule(idx, day, h, retryable, too_many)
        ok = ~np.isnan(times) & (rng.random((e, 3)) < p)
        first_ok = np.where(ok.any(axis=1), ok.argmax(axis=1), -1)
        retry_t = np.where(first_ok >= 0, times[np.arange(e), np.maximum(first_ok, 0)], np.inf)
        fix = rng.random(lam.shape) < lam
        fix_t = np.where(fix.any(axis=1), fix.argmax(axis=1), np.inf) + 0.5
        self.ach_outcomes(idx, inv, day, amount, h, code, times, p, lam, ok, first_ok, retry_t, fix_t)

    def ach_schedule(self, idx, day, h, retryable, too_many):
        """Re-presentment days (after the failed debit), their true success chances, and the daily chance the
        customer pays another way. Deterministic: truth can be computed before any outcome is drawn."""
        e = idx.size
        times = np.full((e, 3), np.nan)
        next_payday = day + 3
        for j in range(3):
            cand = next_payday + np.arange(0, 20)[:, None]
            is_pay = cal.is_payday(cand)
            first = cand[is_pay.argmax(axis=0), np.arange(e)]
            first = self.roll(first, idx)
            use = retryable if j < 2 else too_many
            times[use, j] = (first - day)[use]
            next_payday = first + 3
        p = np.zeros((e, 3))
        rows, cols = np.nonzero(~np.isnan(times))
        p[rows, cols] = bh.ach_represent_success_probability(h[rows], (day[rows] + times[rows, cols]).astype(int))
        d = np.arange(bh.RECOVERY_WINDOW_DAYS)
        lam = np.clip(0.03 * 2 * bh.sigmoid(0.3 + 1.1 * h)[:, None]
                      * np.where(np.isin(d, bh.OUTREACH_DAYS), bh.OUTREACH_BOOST, 1.0)[None, :], 0, 0.9)
        return times, p, lam

    def ach_outcomes(self, idx, inv, day, amount, h, code, times, p, lam, ok, first_ok, retry_t, fix_t):
        rng = self.rng
        e = idx.size
        retryable = np.isin(code, codes.ACH_RETRYABLE)
        in_window = ~np.isnan(times) & (times < bh.RECOVERY_WINDOW_DAYS)
        p_not = np.prod(np.where(in_window, 1 - p, 1.0), axis=1) * np.prod(1 - lam, axis=1)
        late_p = bh.late_recovery_probability(h)
        families = np.where(retryable, "insufficient_funds", "ach_other").astype(object)
        self.record_episode_truth(idx, inv, day, np.full(e, 10.0), amount, "ach", families, p_not, times, p, lam,
                                  late_p, h)
        rec_t = np.minimum(retry_t, fix_t)
        recovered = rec_t < bh.RECOVERY_WINDOW_DAYS
        # Re-presentments made before recovery fail with another return.
        for j in range(3):
            made = ~np.isnan(times[:, j]) & (times[:, j] <= np.where(recovered, rec_t, np.inf))
            rows = np.flatnonzero(made)
            rday = (day + np.nan_to_num(times[:, j])).astype(np.int64)[rows]
            success = ok[rows, j] & (first_ok[rows] == j)
            self.ach_attempt(idx[rows[success]], inv[rows[success]], rday[success], amount[rows[success]], j + 2,
                             "succeeded")
            self.t["payments"].add(account=idx[rows[success]], invoice=inv[rows[success]],
                                   day=self.roll(rday[success] + 1, idx[rows[success]]), hours=13.0,
                                   amount=amount[rows[success]], method="ach_debit", attempt_number=j + 2,
                                   applied=amount[rows[success]])
            f = rows[~success]
            self.ach_attempt(idx[f], inv[f], rday[~success], amount[f], j + 2, "failed", return_code=code[f],
                             return_day=self.roll(rday[~success] + 2, idx[f]))
        fixed = recovered & (fix_t < retry_t)
        pay = day[fixed] + np.floor(fix_t[fixed]).astype(np.int64)
        self.t["payments"].add(account=idx[fixed], invoice=inv[fixed], day=self.roll(pay, idx[fixed]),
                               hours=rng.uniform(14, 20, fixed.sum()), amount=amount[fixed], method="wire",
                               attempt_number=0, applied=amount[fixed])
        lost = ~recovered
        late = lost & (rng.random(e) < late_p)
        lt = day[late] + rng.integers(31, 121, late.sum())
        self.t["payments"].add(account=idx[late], invoice=inv[late], day=self.roll(lt, idx[late]),
                               hours=rng.uniform(14, 21, late.sum()), amount=amount[late], method="wire",
                               attempt_number=0, applied=amount[late])
        wo = lost & ~late
        self.t["write_offs"].add(account=idx[wo], invoice=inv[wo], amount=amount[wo],
                                 day=day[wo] + rng.integers(120, 181, wo.sum()), hours=rng.uniform(14, 22, wo.sum()),
                                 reason="Uncollectible after ACH returns")
        resolved_t = np.where(recovered, rec_t, np.inf)
        self.dunning_touches(idx, inv, day, resolved_t, np.full(e, "insufficient_funds"), code)

    # ------------------------------------------------------------------ net terms
    def collect_terms(self, idx, inv, inv_day, due, amount, method):
        rng = self.rng
        n = idx.size
        segment = self.acc["segment"].to_numpy()[idx]
        shift = np.array([bh.SEGMENT_LATENESS[s] for s in segment])
        h = self.health_at(idx, inv_day)
        ap_runs = self.ap_run_payer[idx]
        span = np.minimum(7, due - inv_day)
        q_on = bh.on_time_probability(h, shift)
        u = rng.random(n)
        on_time = u < q_on
        never = ~on_time & (rng.random(n) < bh.never_pay_probability(h))
        late_days = 1 + np.floor(rng.exponential(bh.late_scale_days(h)))
        intended = np.where(on_time, due - rng.integers(0, span + 1), due + late_days).astype(np.int64)
        pay_day = self.roll(intended, idx, ap_runs)
        pay_day = np.where(never, np.iinfo(np.int32).max, pay_day)
        # Truth at month ends: P(paid by T) = P(intended <= latest open day <= T) under the roll.
        surv = np.empty((n, HORIZON))
        for j in range(HORIZON):
            horizon_day = inv_day + j
            anchor = self.latest_open(horizon_day, idx, ap_runs)
            surv[:, j] = 1 - bh.intended_payment_cdf(anchor - due, h, shift, span)
        self.snapshot_truth(idx, inv, inv_day, amount, np.clip(surv, 0, 1), "terms")
        paid = ~never
        self.terms_payments(idx[paid], inv[paid], pay_day[paid], amount[paid], method[paid], due[paid])
        # Never-payers are written off after 120-180 days past due.
        self.t["write_offs"].add(account=idx[never], invoice=inv[never], amount=amount[never],
                                 day=due[never] + rng.integers(120, 181, never.sum()),
                                 hours=rng.uniform(14, 22, never.sum()), reason="Uncollectible: customer unresponsive")
        self.terms_outreach(idx, inv, due, pay_day, h, amount)

    def terms_payments(self, idx, inv, pay_day, amount, method, due):
        rng = self.rng
        n = idx.size
        pay_method = np.where(method == "other", "other", method)
        # Larger late invoices are sometimes paid in two parts.
        split = (pay_day - due > 10) & (amount > 2000) & (rng.random(n) < 0.12)
        first_part = np.round(amount * rng.uniform(0.3, 0.7, n), 2)
        first_day = self.roll(due + (pay_day - due) // 2, idx)
        s = np.flatnonzero(split)
        self.t["payments"].add(account=idx[s], invoice=inv[s], day=first_day[s], hours=rng.uniform(14, 21, s.size),
                               amount=first_part[s], method=pay_method[s], attempt_number=0, applied=first_part[s])
        rest = np.where(split, np.round(amount - first_part, 2), amount)
        over = rng.random(n) < 0.015
        paid_amount = np.where(over, np.round(rest * rng.choice([1.1, 2.0], n), 2), rest)
        unapplied = rng.random(n) < 0.03
        self.t["payments"].add(account=idx, invoice=inv, day=pay_day, hours=rng.uniform(14, 21, n),
                               amount=paid_amount, method=pay_method, attempt_number=0, applied=rest,
                               unapplied_days=np.where(unapplied, rng.integers(4, 25, n), 0))

    def terms_outreach(self, idx, inv, due, pay_day, h, amount):
        """Reminder before the due date, emails after it, collector calls at 14 and 45 days past due."""
        rng = self.rng
        owner = self.acc["owner"].to_numpy()[idx]
        for offset, tpl in ((-3, "tpl_invoice_reminder"), (1, "tpl_invoice_overdue"), (7, "tpl_invoice_overdue"),
                            (30, "tpl_account_escalation")):
            rows = np.flatnonzero(pay_day > due + offset)
            n = rows.size
            bounced = rng.random(n) < 0.03
            replied = ~bounced & (rng.random(n) < bh.sigmoid(-1.8 + 0.8 * h[rows]))
            self.t["outreach"].add(account=idx[rows], invoice=inv[rows], channel="email", direction="outbound",
                                   template=tpl, day=due[rows] + offset, hours=rng.uniform(13, 16, n),
                                   outcome=np.where(bounced, "bounced", np.where(replied, "replied", "delivered")),
                                   collector="", note="")
        for offset in (14, 45):
            rows = np.flatnonzero(pay_day > due + offset)
            self.calls(idx[rows], inv[rows], due[rows] + offset, owner[rows], h[rows], pay_day[rows])
        # Payment plans for large, long-overdue balances that do get paid: instalments ending on the pay day.
        paid_late = (pay_day - due > 60) & (pay_day < np.iinfo(np.int32).max)
        plan = paid_late & (amount > 5000) & (rng.random(idx.size) < 0.3)
        p = np.flatnonzero(plan)
        if p.size:
            agreed = due[p] + 21
            count = np.clip((pay_day[p] - agreed) // 30, 2, 6)
            self.t["payment_plans"].add(account=idx[p], invoice=inv[p], day=agreed, amount=amount[p], count=count,
                                        first_due=agreed + 14, pay_day=pay_day[p])

    # ------------------------------------------------------------------ disputes, refunds
    def disputes_and_refunds(self, payments: pd.DataFrame):
        rng = self.rng
        card = payments[payments["method"] == "card"]
        hit = card[rng.random(len(card)) < 0.004]
        opened = hit["day"].to_numpy() + rng.integers(10, 60, len(hit))
        brand = self.brand[hit["account"].to_numpy()]
        reason = np.empty(len(hit), dtype=object)
        for b in np.unique(brand):
            rows = brand == b
            options = codes.DISPUTE_REASONS[b]
            reason[rows] = np.array([o[0] for o in options])[codes.pick(rng, options, rows.sum())]
        closed = opened + rng.integers(20, 46, len(hit))
        status = np.where(closed > self.end, "open", rng.choice(["won", "lost", "accepted"], len(hit),
                                                                p=[0.35, 0.5, 0.15]))
        disputes = pd.DataFrame({"payment_key": hit["key"].to_numpy(), "account": hit["account"].to_numpy(),
                                 "invoice": hit["invoice"].to_numpy(), "network": brand, "reason_code": reason,
                                 "amount": hit["amount"].to_numpy(), "opened_day": opened, "closed_day": closed,
                                 "status": status})
        over = payments[payments["amount"] > payments["applied"] + 0.004]
        refunded = over[rng.random(len(over)) < 0.6]
        refunds = pd.DataFrame({"payment_key": refunded["key"].to_numpy(), "account": refunded["account"].to_numpy(),
                                "amount": (refunded["amount"] - refunded["applied"]).round(2).to_numpy(),
                                "day": refunded["day"].to_numpy() + rng.integers(10, 40, len(refunded))})
        return disputes, refunds


def episode_survival(times, p_retry, lam, late_p) -> np.ndarray:
    """P(not recovered by the end of day j after the failure), j = 0..HORIZON-1: retries (by day) and customer
    fixes within the window, then late collection spread evenly over days 31-120."""
    e = len(times)
    day_of_retry = np.where(np.isnan(times), HORIZON + 1, np.floor(times)).astype(np.int64)
    daily = np.ones((e, HORIZON + 2))
    np.multiply.at(daily, (np.repeat(np.arange(e), times.shape[1]), day_of_retry.ravel()), (1 - p_retry).ravel())
    daily = daily[:, :HORIZON]
    daily[:, : lam.shape[1]] *= 1 - lam
    surv = np.cumprod(daily, axis=1)
    after = np.arange(HORIZON) - bh.RECOVERY_WINDOW_DAYS
    late_frac = np.clip(after / 90.0, 0, 1)
    s30 = surv[:, bh.RECOVERY_WINDOW_DAYS - 1 : bh.RECOVERY_WINDOW_DAYS]
    return np.where(after[None, :] >= 0, s30 * (1 - late_p[:, None] * late_frac[None, :]), surv)


def simulate(config: BookConfig, first_account: int = 1) -> Simulator:
    sim = Simulator(config, first_account)
    sim.run()
    return sim
