"""Bottom-up cash forecast from open items and recurring billing, point in time at any origin.

At an origin date o (everything known up to and including o):
- payment timing: amount-weighted discrete hazards of cash and of write-off by day relative to the due date,
  per segment x billing method x payer profile (Kaplan-Meier style: an invoice is at risk from its issue until
  it is cleared or until o, so recent invoices count without waiting for their outcome), each shrunk towards
  its segment x billing method x kind hazard, which is shrunk towards its kind's;
- kinds of payment (see CARD ... AP_RUN_CUSTOMER): card charges and ACH debits run on the biller's schedule and
  are timed in days or business days from the due date; a customer paying an invoice is timed by the day it
  meant to pay, and its money lands on the next business day, or on the next accounts-payable run (the
  15th-or-next and the last business day) for a payer on runs. The day meant is not seen: learning spreads each
  receipt over the days since the previous landing day;
- payer profile, from the account's own history known at o: how often it paid within a few days of the due
  date in the last 400 days (unknown, mostly, sometimes, rarely) and whether it pays on accounts-payable runs
  (the odds of its group, updated by where its own receipts landed);
- open items: every invoice issued by o with a balance at o; its expected cash on day o+j is the balance times
  the chance it is paid that day given it was still open at o;
- new billing: accounts billed monthly in the last 35 days are billed again on the same day of later months
  (median of their last three amounts, times the observed monthly continuation rate); annual invoices recur
  12 months on;
- the payment method of the cash: its share by segment and billing method in the history;
- receipts other than cards never land on a closed day: expected amounts on weekends and holidays (card
  customers who pay a failed charge by wire) move to the next business day.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix

from models_ml.forecasting.calendar import business_days, calendar_features
from models_ml.io import read_frame

KMIN, KMAX = -90, 240  # days relative to the due date followed by the hazards
DAY = pd.Timedelta(days=1)
SHRINK_INVOICES = 5.0  # pseudo-invoices of pooled hazard mixed into each segment x method hazard
TYPICAL_SAMPLE = 2_000_000  # invoices whose amounts give a group's typical amount (all of them up to 100k accounts)
MONTHLY_WINDOW_DAYS = 35
ROLL_PAD_DAYS = 21
# Payer profiles: on-time tier (0 no history, 1 mostly on time, 2 sometimes, 3 rarely) + 4 x AP-run payer.
TIERS = 4
PROFILES = 2 * TIERS
ON_TIME_WINDOW_DAYS = 400  # a year and a month: an annual account's last invoice counts
ON_TIME_GRACE_DAYS = 3
TIER_BOUNDS = (0.8, 0.4)  # share of recent invoices paid on time: >= 0.8 mostly, >= 0.4 sometimes, else rarely
AP_PAYER_MIN_RECEIPTS = 3
AP_PAYER_SHARE = 0.7  # AP-run days are about 1 business day in 10: 70 % of receipts on them is no accident
AP_WINDOW_DAYS = 730
# Who starts a payment decides how its day is modelled. The biller charges cards on any day and debits ACH on
# business days: their timing is counted in days (cards) or business days (ACH) from the due date. A customer paying
# an invoice means to pay on some day and the money lands on the next business day, or, for a payer on
# accounts-payable runs, on the next run: their timing is the intended day, counted in days from the due date, and
# lands on the payer's landing days. Kinds of profile group:
CARD, ACH, CUSTOMER, AP_RUN_CUSTOMER = 0, 1, 2, 3
KINDS = 4
ALL_DAYS, BUSINESS, AP_RUNS = 0, 1, 2  # landing calendars
LOOKBACK_DAYS = 20  # an intended day can lie this far before the origin (the gap between AP runs is at most 17)


@dataclass
class Book:
    """Point-in-time inputs of the bottom-up forecast (reporting currency)."""

    invoices: pd.DataFrame  # one row per non-void invoice
    cash: pd.DataFrame  # one row per payment application: invoice_id, date, amount, payment_method
    as_of: pd.Timestamp


def load_book(con, as_of: str) -> Book:
    """Invoices (with billing period and write-offs) and applied cash up to `as_of` from the marts."""
    invoices = read_frame(con, """
        select
            inv.invoice_id,
            inv.account_id,
            inv.segment,
            inv.billing_method,
            inv.invoice_date,
            inv.due_date,
            cast(inv.invoice_amount_reporting as double) as amount,
            cast(inv.write_off_amount * coalesce(inv.book_rate, 1) as double) as write_off_amount,
            inv.invoice_status,
            inv.settled_date,
            coalesce(datediff('day', stg.billing_period_start, stg.billing_period_end) > 300, false) as is_annual
        from marts.fct_invoices as inv
        left join staging.stg_raw__invoices as stg
            on inv.invoice_id = stg.invoice_id
        where not inv.is_void and inv.invoice_date <= cast(? as date)
        order by inv.invoice_id
    """, [as_of])
    cash = read_frame(con, """
        with invoice_rows as (  -- each invoice's position in `invoices` (ordered by id), so the engine need not
            select invoice_id, book_rate,  -- match millions of text ids in Python
                   cast(row_number() over (order by invoice_id) - 1 as bigint) as invoice_row
            from marts.fct_invoices
            where not is_void and invoice_date <= cast(? as date)
        )
        select
            app.invoice_id,
            rows.invoice_row,
            app.effective_date as date,
            -- at the invoice's book rate, like its amount: a foreign invoice paid in full leaves no balance and
            -- never takes more out of the risk set than it put in (the payment day's rate moves with FX)
            cast(app.applied_amount * coalesce(rows.book_rate, 1) as double) as amount,
            pay.payment_method
        from marts.fct_payment_applications as app
        inner join marts.fct_payments as pay
            on app.payment_id = pay.payment_id
        left join invoice_rows as rows
            on app.invoice_id = rows.invoice_id
        where app.invoice_id is not null and app.effective_date <= cast(? as date)
        order by app.application_id
    """, [as_of, as_of])
    for frame, cols in ((invoices, ["invoice_date", "due_date", "settled_date"]), (cash, ["date"])):
        for col in cols:
            frame[col] = pd.to_datetime(frame[col])
    invoices["is_annual"] = invoices["is_annual"].astype(bool)
    return Book(invoices, cash, pd.Timestamp(as_of))


class BottomUpEngine:
    """Expected cash by day, segment and payment method at any origin; results cached per origin."""

    def __init__(self, book: Book, country: str = "US"):
        self.book = book
        self.country = country
        inv = book.invoices.reset_index(drop=True)
        # Integer codes and numpy arrays throughout: every origin of a backtest scans all invoices and cash, and
        # text columns would be hashed and copied each time (minutes on a 100,000-account book).
        if "invoice_row" in book.cash:  # from load_book: matched in SQL (invoice ids -> positions, void: null)
            row = book.cash["invoice_row"].fillna(-1).to_numpy(dtype=np.int64)
        else:
            row = pd.Index(inv["invoice_id"]).get_indexer(book.cash["invoice_id"])
        cash = book.cash[row >= 0]
        self.cash_row = row[row >= 0]
        self.cash_amount = cash["amount"].to_numpy(dtype=float)
        self.cash_method, self.methods = pd.factorize(cash["payment_method"], sort=True)
        self.cash_is_card = (cash["payment_method"] == "card").to_numpy(dtype=bool)
        segment, segments = pd.factorize(inv["segment"], sort=True)
        billing, billings = pd.factorize(inv["billing_method"], sort=True)
        pair = segment * max(len(billings), 1) + billing
        present = np.flatnonzero(np.bincount(pair, minlength=1))  # groups in (segment, billing) order
        self.group_of = np.searchsorted(present, pair)
        self.groups = [(segments[p // max(len(billings), 1)], billings[p % max(len(billings), 1)]) for p in present]
        self.amount = inv["amount"].to_numpy(dtype=float)
        self.write_off_amount = inv["write_off_amount"].to_numpy(dtype=float)
        self.is_written_off = (inv["invoice_status"] == "written_off").to_numpy(dtype=bool)
        self.is_annual = inv["is_annual"].to_numpy(dtype=bool)
        self.inv = inv
        self.invoice_day = _days(inv["invoice_date"])
        self.due_day = _days(inv["due_date"])
        self.settled_day = _days(inv["settled_date"])
        self.cash_day = _days(cash["date"])
        # Groups x payer profiles: id = group * PROFILES + profile; each has a kind (see KINDS).
        n_g = len(self.groups)
        by_biller = {"card_autopay": CARD, "ach_debit": ACH}
        group_kind = np.array([by_biller.get(billing, CUSTOMER) for _, billing in self.groups])
        ap_bit = np.tile(np.arange(PROFILES) >= TIERS, n_g)
        self.profile_kind = np.where((np.repeat(group_kind, PROFILES) == CUSTOMER) & ap_bit, AP_RUN_CUSTOMER,
                                     np.repeat(group_kind, PROFILES))
        # Where a customer's money lands (read for customers' profiles only).
        self.profile_landing = np.where(self.profile_kind == AP_RUN_CUSTOMER, AP_RUNS, BUSINESS)
        self.profile_base = np.repeat(np.arange(n_g), PROFILES)
        # Hazards are shrunk towards their group x kind's, which are shrunk towards their kind's.
        self.profile_parent = self.profile_base * KINDS + self.profile_kind
        self.customer_paid_group = group_kind == CUSTOMER
        self.customer_paid = self.customer_paid_group[self.group_of]
        # ACH timing counts business days; every other counts days.
        self.business_clock = (group_kind == ACH)[self.group_of]
        # Sorted codes, so grouping by code orders accounts as grouping by their ids would.
        self.account_codes, self.accounts = pd.factorize(inv["account_id"], sort=True)
        self.by_account = np.lexsort((self.invoice_day, self.account_codes))  # stable: by account, then date
        # Each account's group: its latest invoice's (segment x billing method).
        self.account_group = np.zeros(len(self.accounts), dtype=np.int64)
        self.account_group[self.account_codes[self.by_account]] = self.group_of[self.by_account]
        self.invoice_dates = inv["invoice_date"].to_numpy()
        self.due_dates = inv["due_date"].to_numpy()
        self.invoice_period = (inv["invoice_date"].dt.year * 12 + inv["invoice_date"].dt.month).to_numpy()
        self.cal_lo = int(self.invoice_day.min()) - 400 if len(inv) else _day(book.as_of) - 400
        cal_hi = max(int(self.due_day.max()) if len(inv) else 0, _day(book.as_of)) + 800
        days = pd.date_range(pd.Timestamp(np.datetime64(self.cal_lo, "D")), periods=cal_hi - self.cal_lo, freq="D")
        self.is_bday = business_days(days, country)
        cal = calendar_features(days, country)
        self.is_ap_day = ((cal["mid_bday"] + cal["last_bday"]) > 0).to_numpy()
        # Per landing calendar: which days money lands on, and how many such days there are up to each day.
        self.landing_days = np.stack([np.ones(len(days), dtype=bool), self.is_bday, self.is_ap_day])
        self.landing_pos = np.cumsum(self.landing_days, axis=1)
        # Offsets from the due date that do not depend on the origin, computed once (int16 after clipping to one
        # beyond the range followed, which keeps every comparison the hazards make): each invoice's entry into the
        # risk set, each receipt's day, each write-off's; and for a customer's receipt, the first day it may have
        # been meant for on each landing calendar (which one applies changes with the origin: see meant_range).
        clock = np.where(self.business_clock, BUSINESS, ALL_DAYS)
        settled = np.minimum(self.settled_day, cal_hi)  # never-settled invoices: any day (their offset is unused)
        self.entry = np.clip(self.entry_offset(self.invoice_day, self.due_day, clock), KMIN, KMAX).astype(np.int16)
        self.cash_offset = np.maximum(_clip16(self.offset(self.cash_day, self.due_day[self.cash_row],
                                                          clock[self.cash_row])), self.entry[self.cash_row])
        self.write_off_offset = np.maximum(_clip16(self.offset(settled, self.due_day, clock)), self.entry)
        issued = self.invoice_day[self.cash_row]
        self.meant_from = {cal: _clip16(np.maximum(self.previous_landing(self.cash_day, cal) + 1, issued)
                                        - self.due_day[self.cash_row]) for cal in (BUSINESS, AP_RUNS)}
        # Monthly continuation: (account, month) pairs billed monthly, and whether the next month was billed too.
        monthly = ~self.is_annual
        self.billed_months = _sorted_unique(self.account_codes[monthly].astype(np.int64) * 100_000
                                            + self.invoice_period[monthly])
        nxt = np.searchsorted(self.billed_months, self.billed_months + 1)  # billed_months is sorted
        self.billed_next_month = self.billed_months[np.minimum(nxt, len(self.billed_months) - 1)] == (
            self.billed_months + 1) if len(self.billed_months) else np.zeros(0, dtype=bool)
        self._cache: dict[tuple, pd.DataFrame] = {}

    # ---------------------------------------------------------------------------------- clocks
    def _pos(self, days: np.ndarray, landing) -> np.ndarray:
        """Landing days of the `landing` calendar on or before each day (days as day numbers)."""
        return self.landing_pos[landing, np.clip(days - self.cal_lo, 0, self.landing_pos.shape[1] - 1)]

    def offset(self, days: np.ndarray, due: np.ndarray, clock) -> np.ndarray:
        """Days (clock ALL_DAYS) or business days (clock BUSINESS, 0 = the due date rolled forward) after due,
        broadcast; only the entries on the business clock pay for calendar lookups (most are on the day clock)."""
        days, due, clock = np.broadcast_arrays(days, due, clock)
        out = (days - due).astype(np.int64)
        business = clock == BUSINESS
        if business.any():
            out[business] = self._pos(days[business], BUSINESS) - self._pos(due[business] - 1, BUSINESS) - 1
        return out

    def entry_offset(self, issued: np.ndarray, due: np.ndarray, clock) -> np.ndarray:
        """Offset of the first day an invoice can be paid: its issue day (or the first business day from it)."""
        return self.offset(issued - 1, due, clock) + 1

    def lands(self, days: np.ndarray, landing) -> np.ndarray:
        """Whether money lands on each day on the `landing` calendar."""
        return self.landing_days[landing, np.clip(days - self.cal_lo, 0, self.landing_days.shape[1] - 1)]

    def last_landing(self, day: int, landing: int) -> int:
        """The latest landing day of the `landing` calendar on or before `day` (day numbers)."""
        marks = np.flatnonzero(self.landing_days[landing, :max(day - self.cal_lo + 1, 1)])
        return self.cal_lo + (int(marks[-1]) if len(marks) else 0)

    def previous_landing(self, days: np.ndarray, landing: int) -> np.ndarray:
        """The latest landing day of the `landing` calendar strictly before each day (day numbers)."""
        pos = np.clip(days - self.cal_lo, 0, self.landing_pos.shape[1] - 1)
        before = self.landing_pos[landing, pos] - self.landing_days[landing, pos]  # landing days before each day
        marks = np.flatnonzero(self.landing_days[landing])
        return self.cal_lo + np.where(before > 0, marks[np.maximum(before - 1, 0)], -1)

    def meant_range(self, rows: np.ndarray, landing: np.ndarray, censor: np.ndarray) -> tuple[np.ndarray, ...]:
        """Offsets (first, last) of the days each customer's receipt `rows` (cash rows) may have been meant for,
        on its `landing` calendar: after the previous landing day (and from the invoice's issue) up to the day it
        landed, but not beyond its invoice's `censor` offset (by invoice row). Learning spreads the receipt
        evenly over them: which of those days was meant is not seen."""
        last = np.minimum(self.cash_offset[rows], censor[self.cash_row[rows]])
        first = np.where(landing == AP_RUNS, self.meant_from[AP_RUNS][rows], self.meant_from[BUSINESS][rows])
        return np.minimum(first, last), last

    # ---------------------------------------------------------------------------------- point-in-time state
    def state(self, origin: pd.Timestamp):
        """Issued invoices, cash and write-offs known at `origin`, with each invoice's balance at origin."""
        o = _day(origin)
        issued = self.invoice_day <= o
        known = self.cash_day <= o  # the cash rows known at origin
        paid = np.bincount(self.cash_row[known], weights=self.cash_amount[known], minlength=len(self.inv))
        written = self.is_written_off & (self.settled_day <= o)
        write_off = np.where(written, self.write_off_amount, 0.0)
        balance = self.amount - paid - write_off
        is_open = issued & (balance > 0.005) & ~(self.settled_day <= o)
        return issued, known, written, balance, is_open

    def profiles(self, origin: pd.Timestamp) -> np.ndarray:
        """Each invoice's payer profile at origin, from its account's history known then (see the module doc)."""
        return self.account_profiles(origin)[self.account_codes]

    def account_profiles(self, origin: pd.Timestamp) -> np.ndarray:
        """Each account's payer profile at origin (by account code)."""
        key = ("profiles", origin)
        if key in self._cache:
            return self._cache[key]
        o, n_acc, acc = _day(origin), len(self.accounts), self.account_codes
        # On time: due in the window and past its grace days, fully paid within them.
        window = ((self.due_day > o - ON_TIME_WINDOW_DAYS) & (self.due_day + ON_TIME_GRACE_DAYS <= o)
                  & (self.invoice_day <= o))
        r, amount = self.cash_row, self.cash_amount
        in_time = (self.cash_day <= self.due_day[r] + ON_TIME_GRACE_DAYS) & (self.cash_day <= o)
        paid = np.bincount(r[in_time], weights=amount[in_time], minlength=len(self.inv))
        on_time = paid >= self.amount - 0.01
        n = np.bincount(acc[window], minlength=n_acc)
        rate = np.divide(np.bincount(acc[window & on_time], minlength=n_acc), n, out=np.zeros(n_acc), where=n > 0)
        tier = np.where(n == 0, 0, np.where(rate >= TIER_BOUNDS[0], 1, np.where(rate >= TIER_BOUNDS[1], 2, 3)))
        out = tier + TIERS * self.ap_payers(origin)
        self._cache[key] = out
        return out

    def ap_payers(self, origin: pd.Timestamp) -> np.ndarray:
        """Whether each account (by code) pays its invoices on accounts-payable runs (the 15th-or-next and the last
        business day), as the odds stand at origin: its group's share of AP-run payers among accounts with a
        clear history (at least AP_PAYER_MIN_RECEIPTS receipts, AP_PAYER_SHARE of them on runs), updated by each
        of its own non-card receipts of the last AP_WINDOW_DAYS (on a run: likely a payer; off a run: likely not).
        An annual account with one receipt in a year, or a new account, so gets its group's odds."""
        o, n_acc = _day(origin), len(self.accounts)
        recent = (self.cash_day <= o) & (self.cash_day > o - AP_WINDOW_DAYS) & ~self.cash_is_card
        payer = self.account_codes[self.cash_row[recent]]
        cash_pos = np.clip(self.cash_day[recent] - self.cal_lo, 0, len(self.is_ap_day) - 1)
        on_ap = self.is_ap_day[cash_pos]
        n = np.bincount(payer, minlength=n_acc)
        m = np.bincount(payer[on_ap], minlength=n_acc)
        group = self.account_group
        customer_paid = self.customer_paid_group[group]
        clear = customer_paid & (n >= AP_PAYER_MIN_RECEIPTS)
        confident = clear & (m >= AP_PAYER_SHARE * n)
        n_g = len(self.groups)
        prior = (np.bincount(group[confident], minlength=n_g) + 1) / (np.bincount(group[clear], minlength=n_g) + 2)
        # How often receipts land on runs: for clear payers (a), and for anyone else (b: runs among business days).
        a = np.clip((m[confident].sum() + 1) / (n[confident].sum() + 2), 0.5, 0.99)
        window = self.is_bday[max(o - AP_WINDOW_DAYS - self.cal_lo, 0):o - self.cal_lo + 1]
        b = np.clip(self.is_ap_day[max(o - AP_WINDOW_DAYS - self.cal_lo, 0):o - self.cal_lo + 1][window].mean()
                    if window.any() else 0.1, 0.01, a - 0.01)
        log_odds = (np.log(prior[group] / (1 - prior[group])) + m * np.log(a / b)
                    + (n - m) * np.log((1 - a) / (1 - b)))
        return customer_paid & (log_odds > 0)

    def profile_groups(self, origin: pd.Timestamp) -> np.ndarray:
        """Each invoice's group x payer profile id at origin."""
        return self.group_of * PROFILES + self.profiles(origin)

    def censor_days(self, origin: pd.Timestamp, pg: np.ndarray) -> np.ndarray:
        """Per invoice (profile group `pg`): the last day whose outcome is known at origin. For a customer it is
        the last landing day on or before the origin: a day meant after it lands after the origin."""
        o = _day(origin)
        landing = self.profile_landing[pg]
        out = np.full(len(pg), o, dtype=np.int64)
        for cal in (BUSINESS, AP_RUNS):
            out[self.customer_paid & (landing == cal)] = self.last_landing(o, cal)
        return out

    def _risk_events(self, origin: pd.Timestamp, pg: np.ndarray) -> dict[str, np.ndarray]:
        """What enters and leaves the risk set up to origin, as invoice rows and offsets (`pg`: each invoice's
        profile group at origin)."""
        issued, known, written, _, _ = self.state(origin)
        entry = self.entry
        censor_day = self.censor_days(origin, pg)
        clock = np.where(self.business_clock, BUSINESS, ALL_DAYS)
        censor = np.clip(self.offset(censor_day, self.due_day, clock), KMIN - 1, KMAX)
        use = issued & (entry <= censor)
        # Cash events: a receipt on a biller's schedule happened on its day; a customer's was meant for one of a
        # range of days (meant_range), over which it is spread evenly.
        cash = np.flatnonzero(known)
        cash = cash[use[self.cash_row[cash]]]
        first, last = self.cash_offset[cash], self.cash_offset[cash]
        customer = self.customer_paid[self.cash_row[cash]]
        rows = cash[customer]
        first[customer], last[customer] = self.meant_range(rows, self.profile_landing[pg[self.cash_row[rows]]], censor)
        w = np.flatnonzero(use & written)
        return {"use": use, "rows": np.flatnonzero(use), "censor": censor, "entry": entry,
                "cash_row": self.cash_row[cash], "cash_first": first, "cash_last": last,
                "cash_a": self.cash_amount[cash],
                "wo_row": w, "wo_first": self.write_off_offset[w], "wo_last": self.write_off_offset[w],
                "wo_a": self.write_off_amount[w]}

    def _at_risk(self, e: dict[str, np.ndarray], g: np.ndarray, n_g: int):
        """Amount at risk, cash and write-offs by group (`g`, per invoice row) and offset."""
        n_k = KMAX - KMIN + 1
        censor, amount, rows = e["censor"], self.amount, e["rows"]
        # Difference arrays along the offsets (cumulated below): an amount entering the risk set at offset t is
        # +a at t; an event spread evenly over offsets first..last is a box, +h at first and -h after last (a
        # second difference, `leave`, for the amounts leaving the risk set one piece a day).
        risk_diff = np.zeros((n_g, n_k + 2))
        leave = np.zeros((n_g, n_k + 2))
        cash_diff = np.zeros((n_g, n_k + 1))
        wo_diff = np.zeros((n_g, n_k + 1))
        _accumulate(risk_diff, g[rows], e["entry"][rows] - KMIN, amount[rows])
        _accumulate(risk_diff, g[rows], censor[rows] - KMIN + 1, -amount[rows])
        # Each piece of cash or write-off counts as an event on its day and leaves the risk set from the next day
        # until the censor day (a piece on or after the censor day never left it: it was not known).
        for r, first, last, a, events in ((e["cash_row"], e["cash_first"], e["cash_last"], e["cash_a"], cash_diff),
                                          (e["wo_row"], e["wo_first"], e["wo_last"], e["wo_a"], wo_diff)):
            first, last = first.astype(np.int64), last.astype(np.int64)
            piece = a / (last - first + 1)
            inside = first <= KMAX
            _accumulate(events, g[r[inside]], first[inside] - KMIN, piece[inside])
            _accumulate(events, g[r[inside]], np.minimum(last[inside], KMAX) - KMIN + 1, -piece[inside])
            c = censor[r].astype(np.int64)
            known_last = np.minimum(last, c - 1)
            left = known_last >= first
            r, first, known_last, c, piece = r[left], first[left], known_last[left], c[left], piece[left]
            _accumulate(leave, g[r], first - KMIN + 1, -piece)
            _accumulate(leave, g[r], known_last - KMIN + 2, piece)
            _accumulate(risk_diff, g[r], c - KMIN + 1, piece * (known_last - first + 1))
        risk_diff += np.cumsum(leave, axis=1)
        at_risk = np.clip(np.cumsum(risk_diff, axis=1)[:, :n_k], 0, None)
        cash_k = np.cumsum(cash_diff, axis=1)[:, :n_k]
        wo_k = np.cumsum(wo_diff, axis=1)[:, :n_k]
        return at_risk, cash_k, wo_k

    def typical_amount(self, use: np.ndarray, g: np.ndarray, n_g: int) -> np.ndarray:
        """Median invoice amount of each group (`g`) among the invoices `use`d, on an evenly spaced sample of at
        most TYPICAL_SAMPLE of them (a pseudo-invoice's size for shrinkage: the sample's median is as good)."""
        rows = np.flatnonzero(use)
        rows = rows[::max(1, -(-len(rows) // TYPICAL_SAMPLE))]
        return pd.Series(self.amount[rows]).groupby(g[rows]).median().reindex(range(n_g), fill_value=0.0).to_numpy()

    def hazards(self, origin: pd.Timestamp) -> tuple[np.ndarray, np.ndarray]:
        """Cash and write-off hazards, arrays (groups x PROFILES) x (KMAX-KMIN+1), learned from what is known at
        origin: each group x profile hazard is shrunk towards its group x kind's, and that towards its kind's."""
        key = ("hazards", origin)
        if key in self._cache:
            return self._cache[key]
        n_g = len(self.groups)
        pg = self.profile_groups(origin)
        events = self._risk_events(origin, pg)  # shared by the two groupings
        # One pass at the profile level; a parent's figures are the sum of its profiles' (rows of a few hundred).
        by_profile = self._at_risk(events, pg, n_g * PROFILES)
        at_risk, cash_k, wo_k = (_sum_rows(x, self.profile_parent, n_g * KINDS) for x in by_profile)
        typical = self.typical_amount(events["use"], self.profile_parent[pg], n_g * KINDS)
        kind = np.tile(np.arange(KINDS), n_g)  # each parent's kind
        hc_kind, hw_kind = np.zeros((KINDS, at_risk.shape[1])), np.zeros((KINDS, at_risk.shape[1]))
        for k in range(KINDS):
            pooled = at_risk[kind == k].sum(0)
            with np.errstate(divide="ignore", invalid="ignore"):
                hc_kind[k] = np.where(pooled > 0, cash_k[kind == k].sum(0) / pooled, 0.0)
                hw_kind[k] = np.where(pooled > 0, wo_k[kind == k].sum(0) / pooled, 0.0)
        lam = SHRINK_INVOICES * typical[:, None]
        hc_p, hw_p = _shrunk(at_risk, cash_k, hc_kind[kind], lam), _shrunk(at_risk, wo_k, hw_kind[kind], lam)
        at_risk, cash_k, wo_k = by_profile
        lam = SHRINK_INVOICES * self.typical_amount(events["use"], pg, n_g * PROFILES)[:, None]
        hc = np.clip(_shrunk(at_risk, cash_k, hc_p[self.profile_parent], lam), 0, 1)
        hw = np.clip(_shrunk(at_risk, wo_k, hw_p[self.profile_parent], lam), 0, 1 - hc)
        self._cache[key] = (hc, hw)
        return hc, hw

    def method_shares(self, origin: pd.Timestamp) -> dict[int, dict[str, float]]:
        """Share of each group's cash by payment method (card failures are often paid by wire)."""
        known = self.cash_day <= _day(origin)
        n_m = len(self.methods)
        cell = self.group_of[self.cash_row[known]] * n_m + self.cash_method[known]
        size = len(self.groups) * n_m
        totals = np.bincount(cell, weights=self.cash_amount[known], minlength=size).reshape(-1, n_m)
        seen = np.bincount(cell, minlength=size).reshape(-1, n_m) > 0
        shares = {}
        for i, (_, billing) in enumerate(self.groups):
            if seen[i].any():
                total = totals[i][seen[i]].sum()
                shares[i] = {str(self.methods[m]): totals[i, m] / total for m in np.flatnonzero(seen[i])}
            else:
                shares[i] = {billing.replace("card_autopay", "card"): 1.0}
        return shares

    # ---------------------------------------------------------------------------------- items and billing
    def open_items(self, origin: pd.Timestamp) -> pd.DataFrame:
        """One row per invoice open at origin: invoice_id, group, due_day, balance, start (the first offset whose
        outcome is not known at origin; for a customer's invoice it may lie a few days before the origin)."""
        _, _, _, balance, is_open = self.state(origin)
        inv = self.inv[is_open]
        due = self.due_day[is_open]
        pg = self.profile_groups(origin)
        clock = np.where(self.business_clock[is_open], BUSINESS, ALL_DAYS)
        censor = self.offset(self.censor_days(origin, pg)[is_open], due, clock)
        return pd.DataFrame({"invoice_id": inv["invoice_id"].to_numpy(), "group": pg[is_open],
                             "due_day": due, "balance": balance[is_open], "start": censor + 1})

    def projected_invoices(self, origin: pd.Timestamp, h: int) -> pd.DataFrame:
        """Expected recurring invoices dated origin+1 .. origin+h: group, invoice_date, due_date, amount.

        Works on invoice positions sorted by account, then date (sorted once): no per-origin sort or group-by of
        the whole book. Accounts are handled by code (`acc`), segment x billing method by group number (`base`).
        """
        order = self.by_account
        issued = self.invoice_day[order] <= _day(origin)
        monthly = order[issued & ~self.is_annual[order]]
        annual_rows = order[issued & self.is_annual[order]]
        end = origin + h * DAY
        rows = []
        retention = self.monthly_retention(origin)
        last = self.latest_per_account(monthly, 3)
        last = last[last["invoice_date"] > origin - MONTHLY_WINDOW_DAYS * DAY]
        for k in range(1, h // 28 + 2):
            dates = add_months(last["invoice_date"], k)
            keep = (dates > origin) & (dates <= end)
            if keep.any():
                part = last[keep]
                rows.append(pd.DataFrame({
                    "acc": part.index, "base": part["base"], "invoice_date": dates[keep],
                    "due_date": dates[keep] + (part["due_date"] - part["invoice_date"]),
                    "amount": part["amount"] * retention ** k}))
        renewal = self.annual_renewal(annual_rows, origin, retention ** 12)
        annual = self.latest_per_account(annual_rows, 1)
        dates = add_months(annual["invoice_date"], 12)
        keep = (dates > origin) & (dates <= end)
        if keep.any():
            part = annual[keep]
            rows.append(pd.DataFrame({
                "acc": part.index, "base": part["base"], "invoice_date": dates[keep],
                "due_date": dates[keep] + (part["due_date"] - part["invoice_date"]),
                "amount": part["amount"] * renewal}))
        columns = ["invoice_date", "due_date", "amount", "group"]
        if not rows:
            return pd.DataFrame(columns=columns)
        frame = pd.concat(rows, ignore_index=True)
        frame["group"] = frame["base"] * PROFILES + self.account_profiles(origin)[frame["acc"].to_numpy()]
        # Group numbers follow (segment, billing method) order.
        return frame.sort_values(["invoice_date", "base", "amount"], kind="stable").reset_index(drop=True)[columns]

    def latest_per_account(self, rows: np.ndarray, n: int) -> pd.DataFrame:
        """Per account (index: code, ascending) of `rows` (positions sorted by account, then date): its latest
        invoice's date, due date and group, and the median amount of its latest `n` invoices."""
        acc = self.account_codes[rows]
        ends = np.flatnonzero(np.r_[acc[1:] != acc[:-1], True]) if len(rows) else np.zeros(0, dtype=np.int64)
        amounts = np.full((len(ends), n), np.nan)
        for j in range(n):
            pos = ends - j
            ok = pos >= 0
            ok[ok] = acc[pos[ok]] == acc[ends[ok]]
            amounts[ok, j] = self.amount[rows[pos[ok]]]
        latest = rows[ends]
        return pd.DataFrame({"invoice_date": self.invoice_dates[latest], "due_date": self.due_dates[latest],
                             "amount": np.nanmedian(amounts, axis=1) if len(ends) else np.zeros(0),
                             "base": self.group_of[latest]}, index=pd.Index(acc[ends], name="acc"))

    def monthly_retention(self, origin: pd.Timestamp, months: int = 6) -> float:
        """Share of accounts billed monthly in a month that are billed again the next month, over the `months`
        months before the origin's (so origins of one month share the figure). Those months are all issued by
        the origin, so the (account, month) pairs of the whole book answer for any origin."""
        now = origin.year * 12 + origin.month
        period = self.billed_months % 100_000
        base = (period >= now - months - 1) & (period < now - 1)  # months whose next month is in the window
        n = int(base.sum())
        return int(self.billed_next_month[base].sum()) / n if n else 1.0

    def annual_renewal(self, rows: np.ndarray, origin: pd.Timestamp, default: float, min_count: int = 10) -> float:
        """Share of annual invoices (positions `rows`) issued 12-24 months before origin renewed 12 months later
        (+/- 7 days)."""
        annual = pd.DataFrame({"acc": self.account_codes[rows], "invoice_date": self.invoice_dates[rows]})
        due_back = add_months(annual["invoice_date"], 12)
        eligible = annual[due_back + 7 * DAY <= origin]
        if len(eligible) < min_count:
            return default
        later = annual[["acc", "invoice_date"]].rename(columns={"invoice_date": "renewed"})
        pairs = eligible[["acc", "invoice_date"]].reset_index(names="row").merge(later, on="acc")
        gap = (pairs["renewed"] - pairs["invoice_date"]).dt.days
        renewed = pairs.loc[(gap >= 358) & (gap <= 372), "row"].nunique()
        return renewed / len(eligible)

    # ---------------------------------------------------------------------------------- expected cash
    def key_timing(self, hc: np.ndarray, hw: np.ndarray, items: pd.DataFrame, days: np.ndarray,
                   event: str = "cash") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(cash (or write-off) on each of `days` | open before offset `start`) per timing key: items of one
        group with the same due day and start share their timing, computed once per key (a few thousand keys
        however large the book). Returns (keys x days, each item's key, each key's group). A customer's cash is
        on the day meant (see `land`)."""
        group, due, start = (items[c].to_numpy().astype(np.int64) for c in ("group", "due_day", "start"))
        if len(group):  # one integer per key, factorised by hashing (a row-wise unique sorts: minutes at 1M)
            due_lo, start_lo = due.min(), start.min()
            n_due, n_start = due.max() - due_lo + 1, start.max() - start_lo + 1
            inverse, packed = pd.factorize((group * n_due + (due - due_lo)) * n_start + (start - start_lo))
            start, rest = packed % n_start + start_lo, packed // n_start
            group, due = rest // n_due, rest % n_due + due_lo
        else:
            inverse = np.zeros(0, dtype=np.int64)
        n_k = hc.shape[1]
        log_surv = np.concatenate([np.zeros((hc.shape[0], 1)),
                                   np.cumsum(np.log(np.clip(1 - hc - hw, 1e-12, 1)), axis=1)], axis=1)
        clock = np.where(self.profile_kind[group] == ACH, BUSINESS, ALL_DAYS)[:, None]
        k = self.offset(days[None, :], due[:, None], clock)
        valid = (k >= start[:, None]) & (k >= KMIN) & (k <= KMAX) & self.lands(days[None, :], clock)
        idx = np.clip(k - KMIN, 0, n_k - 1)
        s0 = np.clip(start - KMIN, 0, n_k)
        surv = np.exp(log_surv[group[:, None], np.clip(k - KMIN, 0, n_k)] - log_surv[group, s0][:, None])
        hazard = hc if event == "cash" else hw
        return np.where(valid, hazard[group[:, None], idx] * surv, 0.0), inverse.ravel(), group

    def key_cash(self, origin: pd.Timestamp, h: int, items: pd.DataFrame, hazards=None,
                 p_cash_30d: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """P(cash lands on each day origin+1 .. origin+h) per timing key (see key_timing), each item's key, each
        key's group; and each item's factor on its first 30 days: `p_cash_30d` (optional, one per item, NaN
        where unknown) rescales an item's first 30 days to that chance of being paid (1 where not given)."""
        hc, hw = hazards if hazards is not None else self.hazards(origin)
        # Customers' days meant from LOOKBACK_DAYS before the origin on: money meant for a day since their last
        # landing day lands after the origin.
        days = _day(origin) + 1 - LOOKBACK_DAYS + np.arange(LOOKBACK_DAYS + h)
        prob, inverse, group = self.key_timing(hc, hw, items, days)
        prob = self.land(prob, group, days)[:, LOOKBACK_DAYS:]
        factor = np.ones(len(items))
        if p_cash_30d is not None:
            base = prob[:, :min(30, h)].sum(axis=1)[inverse]
            target = np.asarray(p_cash_30d, dtype=float)
            use = np.isfinite(target) & (base > 1e-6)
            # Rescaled, but never beyond certainty: the 30-day probability stays at most 1.
            factor = np.where(use, np.clip(target, 0, 1) / np.where(use, base, 1.0), 1.0)
        return prob, inverse, group, factor

    def item_cash(self, origin: pd.Timestamp, h: int, items: pd.DataFrame, hazards=None,
                  p_cash_30d: np.ndarray | None = None) -> np.ndarray:
        """Expected cash per item per day origin+1 .. origin+h (items x h), on the day it lands.

        `items` has group, due_day, start (first offset not yet observed) and balance; `p_cash_30d` as in
        key_cash.
        """
        if len(items) == 0:
            return np.zeros((0, h))
        prob, inverse, _, factor = self.key_cash(origin, h, items, hazards, p_cash_30d)
        cash = prob[inverse] * items["balance"].to_numpy()[:, None]
        cash[:, :30] *= factor[:, None]
        return cash

    def group_cash(self, origin: pd.Timestamp, h: int, items: pd.DataFrame, hazards=None,
                   p_cash_30d: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Expected cash landing per profile group per day origin+1 .. origin+h ((groups x PROFILES) x h), and its
        variance if each item is paid whole on one day or not at all (sum of balance^2 p (1 - p)): a day whose
        cash hangs on a few large invoices is less certain than one of many small ones. Summed by timing key,
        never item by item (a book's projected billing is millions of rows)."""
        n = len(self.groups) * PROFILES
        if len(items) == 0:
            return np.zeros((n, h)), np.zeros((n, h))
        prob, inverse, group, factor = self.key_cash(origin, h, items, hazards, p_cash_30d)
        balance = items["balance"].to_numpy(dtype=float)
        cash, variance = np.empty_like(prob), np.empty_like(prob)
        for days, f in ((slice(0, 30), factor), (slice(30, None), 1.0)):
            weight = np.bincount(inverse, weights=balance * f, minlength=len(group))
            square = np.bincount(inverse, weights=(balance * f) ** 2, minlength=len(group))
            p = prob[:, days]
            cash[:, days] = p * weight[:, None]
            variance[:, days] = p * (1 - np.clip(p, 0, 1)) * square[:, None]
        return _sum_rows(cash, group, n), _sum_rows(variance, group, n)

    def land(self, prob: np.ndarray, group: np.ndarray, days: np.ndarray) -> np.ndarray:
        """Customers' cash (rows of `prob` by their profile `group`) moved from the day meant to the next landing
        day of their calendar (business days, or AP runs); what would land after the last of `days` is dropped."""
        kind = self.profile_kind[group]
        for cal, rows in ((BUSINESS, kind == CUSTOMER), (AP_RUNS, kind == AP_RUN_CUSTOMER)):
            if not rows.any():
                continue
            landing = np.flatnonzero(self.lands(days, cal))
            nxt = np.searchsorted(landing, np.arange(len(days)))
            keep = nxt < len(landing)
            move = csr_matrix((np.ones(keep.sum()), (np.flatnonzero(keep), landing[nxt[keep]])),
                              shape=(len(days), len(days)))
            prob[rows] = (move.T @ prob[rows].T).T
        return prob

    def expected_write_offs(self, origin: pd.Timestamp, h: int) -> np.ndarray:
        """Expected write-offs per day origin+1 .. origin+h of the items open at origin (reporting currency)."""
        hc, hw = self.hazards(origin)
        items = self.open_items(origin)
        if items.empty:
            return np.zeros(h)
        prob, inverse, _ = self.key_timing(hc, hw, items, _day(origin) + 1 + np.arange(h), event="write_off")
        return prob.T @ np.bincount(inverse, weights=items["balance"].to_numpy(dtype=float), minlength=len(prob))

    def expected_cash(self, origin: pd.Timestamp, h: int, risk: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per day, segment and payment method: expected cash from open items and new billing.

        Columns: date, segment, payment_method, source ('open_items' or 'new_billing'), amount, variance (see
        group_cash). `risk` (invoice_id, p_not_recovered_30d) rescales open items that have a score.
        """
        key = (origin, h, None if risk is None else id(risk))
        if key in self._cache:
            return self._cache[key]
        last = origin + h * DAY
        h += ROLL_PAD_DAYS  # room to roll the last days' receipts forward; cut off below
        hazards = self.hazards(origin)
        items = self.open_items(origin)
        p30 = None
        if risk is not None and len(items):
            p = items["invoice_id"].map(risk.set_index("invoice_id")["p_not_recovered_30d"])
            p30 = (1 - p).to_numpy(dtype=float)
        open_cash = self.group_cash(origin, h, items, hazards, p30)
        billed = self.projected_invoices(origin, h)
        group = billed["group"].to_numpy(dtype=int)
        due = _days(billed["due_date"])
        new = pd.DataFrame({"group": group, "due_day": due, "balance": billed["amount"].to_numpy(dtype=float),
                            "start": self.entry_offset(_days(billed["invoice_date"]), due,
                                                       np.where(self.profile_kind[group] == ACH, BUSINESS, ALL_DAYS))})
        new_cash = self.group_cash(origin, h, new, hazards)
        dates = pd.date_range(origin + DAY, periods=h, freq="D")
        shares = self.method_shares(origin)
        frames = []
        for source, (by_profile, var_profile) in (("open_items", open_cash), ("new_billing", new_cash)):
            by_group = _sum_rows(by_profile, self.profile_base, len(self.groups))
            var_group = _sum_rows(var_profile, self.profile_base, len(self.groups))
            for i, (segment, _) in enumerate(self.groups):
                if not by_group[i].any():
                    continue
                for method, share in sorted(shares[i].items()):
                    frames.append(pd.DataFrame({"date": dates, "segment": segment, "payment_method": method,
                                                "source": source, "amount": by_group[i] * share,
                                                "variance": var_group[i] * share ** 2}))
        if not frames:
            out = pd.DataFrame(columns=["date", "segment", "payment_method", "source", "amount", "variance"])
        else:
            out = pd.concat(frames, ignore_index=True)
            out = self.roll_closed_days(out)
            out = out[out["date"] <= last].reset_index(drop=True)
        self._cache[key] = out
        return out

    def precompute(self, keys: list[tuple[pd.Timestamp, int, pd.DataFrame | None]], workers: int | None = None):
        """expected_cash for every (origin, h, risk) of `keys` on parallel threads, into the cache later calls read.

        A backtest asks for some thirty origins, each independent of the others; numpy releases the interpreter
        lock inside its array work, so two threads did them 1.8 times as fast on two cores at 1,000,000 accounts
        (same results: nothing here depends on the order origins are computed in)."""
        workers = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda key: self.expected_cash(*key), keys))

    def roll_closed_days(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Move expected non-card receipts on weekends and holidays to the next business day (within range)."""
        dates = pd.DatetimeIndex(sorted(frame["date"].unique()))
        is_open = business_days(dates, self.country)
        next_open = pd.Series(np.where(is_open, dates, pd.NaT), index=dates).bfill()
        moved = frame["date"].map(next_open)
        roll = (frame["payment_method"] != "card") & moved.notna()
        frame = frame.assign(date=np.where(roll, moved, frame["date"]))
        frame["date"] = pd.to_datetime(frame["date"])
        return frame.groupby(["date", "segment", "payment_method", "source"], as_index=False)[
            ["amount", "variance"]].sum()


NEVER = np.iinfo(np.int64).max // 2


def _clip16(offsets: np.ndarray) -> np.ndarray:
    """Offsets clipped to one beyond the range followed, as int16 (a third of the memory of int64)."""
    return np.clip(offsets, KMIN - 1, KMAX + 1).astype(np.int16)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique without its hash table (seconds per call on millions of integers in numpy 2): sort, drop repeats."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _accumulate(target: np.ndarray, rows: np.ndarray, cols: np.ndarray, values: np.ndarray) -> None:
    """target[rows, cols] += values, repeated indices adding up (np.add.at, but a bincount: many times faster)."""
    flat = np.asarray(rows, dtype=np.int64) * target.shape[1] + cols
    target += np.bincount(flat, weights=values, minlength=target.size).reshape(target.shape)


def _sum_rows(values: np.ndarray, rows: np.ndarray, n: int) -> np.ndarray:
    """out[r] = sum of values[i] over i with rows[i] == r (n rows): a sparse product, far faster than np.add.at."""
    ones = np.ones(len(rows))
    return np.asarray(csr_matrix((ones, (rows, np.arange(len(rows)))), shape=(n, len(rows))) @ values)


def _shrunk(at_risk: np.ndarray, events: np.ndarray, prior: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Hazard events / at_risk with `lam` (amount) of pseudo-exposure at the prior hazard."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(at_risk + lam > 0, (events + lam * prior) / (at_risk + lam), prior)


def _days(values) -> np.ndarray:
    """Dates -> day numbers (days since 1970-01-01); missing dates -> a day far in the future."""
    stamps = pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]")
    days = stamps.astype(np.int64)
    return np.where(np.isnat(stamps), NEVER, days)


def _day(value) -> int:
    return int(np.datetime64(pd.Timestamp(value).date(), "D").astype(np.int64))


def add_months(dates: pd.Series, months: int) -> pd.Series:
    """Same day `months` later (the month's last day when it is shorter), vectorised."""
    d = pd.to_datetime(dates)
    index = d.dt.year * 12 + d.dt.month - 1 + months
    first = pd.to_datetime(pd.DataFrame({"year": index // 12, "month": index % 12 + 1, "day": 1}))
    day = np.minimum(d.dt.day, first.dt.days_in_month)
    return (first + pd.to_timedelta(day - 1, unit="D")).rename(dates.name)
