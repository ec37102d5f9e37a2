"""Every query of the dashboard: one read-only warehouse, pure query functions, a cache on top for the pages.

Two layers:
  query functions   `aging_trend(wh, segments=..., collector=...)` and friends take a `Warehouse` and plain filter
                    values and return a DataFrame (grain in each docstring). No Streamlit inside, so a benchmark
                    can time them directly: `time_pages(path)` runs the queries of every page's default render.
  load(fn, **kw)    what the pages call: the same function on the current warehouse (path from env
                    DUNNING_WAREHOUSE), cached with st.cache_data under a key that includes the warehouse file's
                    identity (inode, mtime, size), so a newly swapped-in build is read at once.

The warehouse is opened read-only and reopened when `dunning build` swaps a new file in (os.replace changes the
inode); a query that hits a DuckDB error (a file swapped mid-query) is retried once on a fresh connection.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from pipelines.warehouse import connect_read_only

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WAREHOUSE_ENV = "DUNNING_WAREHOUSE"
DEFAULT_WAREHOUSE = PROJECT_ROOT / "build" / "warehouse.duckdb"

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "91-120", "120+")
ROLL_STATES = (*AGING_BUCKETS, "paid_or_credited", "written_off")
DIMENSIONS = ("all", "segment", "collector", "billing_method")
NACHA_THRESHOLDS = {"unauthorized_return_rate": 0.005, "administrative_return_rate": 0.03,
                    "overall_return_rate": 0.15}
# Where a forecast may live: the brief's models.cash_forecast first, then the name the quality suites expect.
FORECAST_TABLES = ("models.cash_forecast", "marts.fct_cash_forecast")
# The tables a usable warehouse must have (the rest of a page degrades gracefully when optional ones are absent).
# A warehouse built by an older version lacks the newer report tables: "incomplete" says to rebuild it.
REQUIRED_TABLES = ("raw._build_info", "marts.dim_accounts", "marts.fct_invoices", "reports.rpt_kpis_monthly",
                   "reports.rpt_aging_trend", "reports.rpt_recovery_by_attempt")


class WarehouseUnavailable(Exception):
    """The warehouse file is missing, empty or unreadable; the message says which."""

    def __init__(self, kind: str, path: Path, detail: str = ""):
        self.kind, self.path, self.detail = kind, Path(path), detail
        super().__init__(f"{path}: {kind}{': ' + detail if detail else ''}")


def warehouse_path() -> Path:
    """The warehouse file the app reads: env DUNNING_WAREHOUSE, else build/warehouse.duckdb."""
    return Path(os.environ.get(WAREHOUSE_ENV) or DEFAULT_WAREHOUSE).expanduser()


# ----------------------------------------------------------------------------------------------- connection
class Warehouse:
    """A read-only view of one warehouse path that follows atomic swaps of the file.

    One DuckDB connection is kept per file version; each query runs on its own cursor (connections are not
    thread-safe, cursors are cheap). When the file's (inode, mtime, size) changes the connection is reopened;
    the previous one is kept until the next swap so a query still running on it can finish.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._retired: duckdb.DuckDBPyConnection | None = None
        self._stamp: tuple | None = None
        self._catalog = ""
        self._tables: frozenset[str] = frozenset()

    def stamp(self) -> tuple[int, int, int]:
        """The identity of the file now: (inode, mtime ns, size); raises WarehouseUnavailable if missing."""
        try:
            st_ = os.stat(self.path)
        except FileNotFoundError:
            raise WarehouseUnavailable("missing", self.path) from None
        if st_.st_size == 0:
            raise WarehouseUnavailable("empty", self.path, "the file has no content")
        return st_.st_ino, st_.st_mtime_ns, st_.st_size

    def _refresh(self, force: bool = False) -> None:
        """(Re)open the file when it changed since the last open (or when forced)."""
        stamp = self.stamp()
        with self._lock:
            if not force and self._con is not None and stamp == self._stamp:
                return
            try:
                con = connect_read_only(self.path)
            except FileNotFoundError:
                raise WarehouseUnavailable("missing", self.path) from None
            except duckdb.Error as exc:
                raise WarehouseUnavailable("unreadable", self.path, str(exc).splitlines()[0]) from None
            catalog = con.execute("select current_database()").fetchone()[0]
            tables = con.execute("select table_schema || '.' || table_name from information_schema.tables "
                                 "where table_catalog = current_database()").fetchall()
            if self._retired is not None:
                try:
                    self._retired.close()
                except duckdb.Error:
                    pass
            self._retired, self._con = self._con, con
            self._stamp, self._catalog = stamp, catalog
            self._tables = frozenset(t for (t,) in tables)

    def _connect(self, force: bool = False) -> tuple[duckdb.DuckDBPyConnection, str]:
        """A new cursor on the current file, and the file's catalog name."""
        self._refresh(force)
        with self._lock:
            return self._con.cursor(), self._catalog

    def query(self, sql: str, params: Sequence | None = None) -> pd.DataFrame:
        """Run one query on a fresh cursor; on a DuckDB error reopen the file and try once more."""
        for attempt in (0, 1):
            cursor, catalog = self._connect(force=attempt == 1)
            try:
                cursor.execute(f'use "{catalog}"')
                cursor.execute("set TimeZone = 'UTC'")
                return cursor.execute(sql, list(params or [])).df()
            except duckdb.Error:
                if attempt:
                    raise
            finally:
                cursor.close()
        raise AssertionError("unreachable")

    def tables(self) -> frozenset[str]:
        """'schema.table' names of every table and view in the current file."""
        self._refresh()
        return self._tables

    def has(self, table: str) -> bool:
        return table in self.tables()

    def check(self) -> None:
        """Raise WarehouseUnavailable unless the file holds a built warehouse."""
        missing = [t for t in REQUIRED_TABLES if not self.has(t)]
        if len(missing) == len(REQUIRED_TABLES):
            raise WarehouseUnavailable("empty", self.path, "no warehouse tables in this file")
        if missing:
            raise WarehouseUnavailable("incomplete", self.path, "missing " + ", ".join(missing))


_CACHED: dict[str, Callable] = {}


def _streamlit_cached(kind: str, fn: Callable) -> Callable:
    """fn wrapped in st.cache_resource / st.cache_data, created on first use so that importing this module
    (a benchmark, a notebook) does not touch Streamlit's caches."""
    if kind not in _CACHED:
        if kind == "resource":
            _CACHED[kind] = st.cache_resource(show_spinner=False)(fn)
        else:
            _CACHED[kind] = st.cache_data(show_spinner=False, max_entries=512)(fn)
    return _CACHED[kind]


def _warehouse_for(path: str) -> Warehouse:
    return Warehouse(path)


def _run_query(query_name: str, path: str, stamp: tuple, kwargs: tuple) -> pd.DataFrame:
    return QUERIES[query_name](_streamlit_cached("resource", _warehouse_for)(path), **dict(kwargs))


def current() -> Warehouse:
    """The shared Warehouse of the configured path (st.cache_resource: one per process, reopened on swaps)."""
    return _streamlit_cached("resource", _warehouse_for)(str(warehouse_path().resolve()))


def load(fn: Callable[..., pd.DataFrame], **kwargs) -> pd.DataFrame:
    """fn(current warehouse, **kwargs), cached with st.cache_data per warehouse version (the file's inode,
    mtime and size are part of the key) and arguments (lists become tuples)."""
    wh = current()
    frozen = tuple(sorted((k, tuple(v) if isinstance(v, list | set | frozenset) else v) for k, v in kwargs.items()))
    return _streamlit_cached("data", _run_query)(fn.__name__, str(wh.path), wh.stamp(), frozen)


QUERIES: dict[str, Callable[..., pd.DataFrame]] = {}


def query(fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Register a page query so load() can find it by name."""
    QUERIES[fn.__name__] = fn
    return fn


class _Where:
    """AND-ed SQL conditions with their bound parameters."""

    def __init__(self):
        self.parts: list[str] = []
        self.params: list = []

    def add(self, sql: str, *params) -> _Where:
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def add_in(self, column: str, values: Iterable | None) -> _Where:
        values = [v for v in (values or []) if v is not None]
        if values:
            self.add(f"{column} in (select unnest(?))", values)
        return self

    def sql(self, keyword: str = "where") -> str:
        return f"{keyword} " + " and ".join(self.parts) if self.parts else ""


# ----------------------------------------------------------------------------------------------- common
@query
def build_info(wh: Warehouse) -> pd.DataFrame:
    """One row: as_of_date and the inputs fingerprint of the build."""
    return wh.query("select as_of_date, inputs_sha256 from raw._build_info")


@query
def account_dimensions(wh: Warehouse) -> pd.DataFrame:
    """Distinct (dimension, value) pairs for the filters: segment, collector, billing_method."""
    return wh.query("""
        select distinct 'segment' as dimension, segment as value from marts.dim_accounts where segment is not null
        union all
        select distinct 'collector', collector from marts.dim_accounts where collector is not null
        union all
        select distinct 'billing_method', billing_method from marts.dim_accounts where billing_method is not null
        order by 1, 2""")


def values_of(frame: pd.DataFrame, dimension: str) -> list[str]:
    return frame.loc[frame["dimension"] == dimension, "value"].tolist()


# ----------------------------------------------------------------------------------------------- overview
@query
def kpi_monthly(wh: Warehouse, dimension: str = "all", value: str = "all") -> pd.DataFrame:
    """One row per month of one dimension value: AR, DSO, CEI, ADD, write-offs, recovery, promises, unapplied."""
    return wh.query("""
        select
            k.period, k.is_open_period, k.days_in_period, k.beginning_ar, k.ending_ar, k.ending_current_ar,
            k.ending_past_due_ar, k.credit_sales, k.cash_applied, k.write_offs, k.simple_dso_days,
            k.countback_dso_days, k.best_possible_dso_days, k.average_days_delinquent, k.cei_pct, k.cei_3m_pct,
            k.write_off_pct, o.matured_failures, o.recovered_failures_30d, o.failed_payment_recovery_rate_30d,
            o.promises_due, o.promise_kept_rate, o.disputes_opened, o.chargeback_rate, o.involuntary_churn_rate,
            o.unapplied_cash_at_period_end
        from reports.rpt_kpis_monthly as k
        left join reports.rpt_operational_kpis_monthly as o
            on o.dimension = k.dimension and o.dimension_value = k.dimension_value and o.period = k.period
        where k.dimension = ? and k.dimension_value = ?
        order by k.period""", [dimension, value])


@query
def kpis_daily(wh: Warehouse, days: int = 90) -> pd.DataFrame:
    """One row per day for the last `days` days up to the as-of date (reporting currency)."""
    return wh.query("""
        select * from reports.rpt_kpis_daily
        where report_date > (select max(report_date) from reports.rpt_kpis_daily) - cast(? as integer)
        order by report_date""", [days])


DAILY_METRICS = {
    "cash_collected": ("Cash collected", "money"), "payment_count": ("Payments posted", "count"),
    "invoiced_amount": ("Invoiced", "money"), "failed_attempt_count": ("Failed payment attempts", "count"),
    "recovered_episode_count": ("Failed payments recovered", "count"),
    "recovered_amount": ("Amount recovered", "money"), "open_ar": ("Open AR (end of day)", "money"),
}


def daily_changes(daily: pd.DataFrame) -> pd.DataFrame:
    """What changed since yesterday: one row per metric with the last day, the day before, the change and the
    average of the 7 days before the last day."""
    if len(daily) < 2:
        return pd.DataFrame(columns=["metric", "kind", "today", "yesterday", "change", "avg_prior_7d"])
    frame = daily.sort_values("report_date")
    last, prev = frame.iloc[-1], frame.iloc[-2]
    prior = frame.iloc[-8:-1]
    rows = []
    for column, (label, kind) in DAILY_METRICS.items():
        rows.append({"metric": label, "kind": kind, "today": float(last[column]), "yesterday": float(prev[column]),
                     "change": float(last[column]) - float(prev[column]),
                     "avg_prior_7d": float(prior[column].astype(float).mean())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------- aging
def _account_filter(where: _Where, segments=None, collector=None, alias: str = "a") -> _Where:
    where.add_in(f"{alias}.segment", segments)
    if collector:
        where.add(f"{alias}.collector = ?", collector)
    return where


@query
def aging_trend(wh: Warehouse, segments: Sequence[str] = (), collector: str | None = None) -> pd.DataFrame:
    """One row per snapshot date (month ends and the as-of date) per aging bucket: amount and invoice count
    (from reports.rpt_aging_trend)."""
    where = _account_filter(_Where(), segments, collector, alias="t")
    return wh.query(f"""
        select
            t.snapshot_date, t.aging_bucket, bool_or(t.is_as_of_snapshot) as is_as_of_snapshot,
            sum(t.open_amount_reporting) as amount, cast(sum(t.invoice_count) as bigint) as invoice_count,
            cast(sum(t.account_count) as bigint) as account_count
        from reports.rpt_aging_trend as t
        {where.sql()}
        group by t.snapshot_date, t.aging_bucket
        order by t.snapshot_date, t.aging_bucket""", where.params)


@query
def aging_snapshot_dates(wh: Warehouse) -> pd.DataFrame:
    """Snapshot dates, newest first, flagging the as-of snapshot."""
    return wh.query("""
        select snapshot_date, bool_or(is_as_of_snapshot) as is_as_of_snapshot
        from marts.fct_aging_snapshots group by snapshot_date order by snapshot_date desc""")


@query
def aging_accounts(wh: Warehouse, snapshot_date: str, bucket: str, segments: Sequence[str] = (),
                   collector: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Accounts with open invoices in one bucket at one snapshot, largest first (at most `limit`)."""
    where = _account_filter(_Where().add("s.snapshot_date = cast(? as date)", str(snapshot_date))
                            .add("s.aging_bucket = ?", bucket), segments, collector)
    return wh.query(f"""
        select
            s.account_id, a.account_name, a.segment, a.collector, count(*) as invoices,
            sum(s.open_amount_reporting) as open_amount, max(s.days_past_due) as max_days_past_due
        from marts.fct_aging_snapshots as s
        inner join marts.dim_accounts as a on a.account_id = s.account_id
        {where.sql()}
        group by all
        order by open_amount desc, s.account_id
        limit ?""", [*where.params, int(limit)])


@query
def aging_invoices(wh: Warehouse, snapshot_date: str, account_id: str) -> pd.DataFrame:
    """Every open invoice of one account at one snapshot, with its bucket, oldest first."""
    return wh.query("""
        select
            s.invoice_id, s.aging_bucket, s.days_past_due, s.due_date, i.invoice_date, s.currency,
            i.invoice_amount, s.open_amount, s.open_amount_reporting, i.invoice_status as status_today
        from marts.fct_aging_snapshots as s
        left join marts.fct_invoices as i on i.invoice_id = s.invoice_id
        where s.snapshot_date = cast(? as date) and s.account_id = ?
        order by s.days_past_due desc, s.invoice_id""", [str(snapshot_date), account_id])


@query
def roll_rates(wh: Warehouse) -> pd.DataFrame:
    """reports.rpt_roll_rates: one row per month-end transition, from bucket and to state."""
    return wh.query("""
        select from_date, to_date, from_bucket, from_bucket_order, to_state, amount, invoice_count, roll_rate
        from reports.rpt_roll_rates order by from_date, from_bucket_order, to_state""")


# ----------------------------------------------------------------------------------------------- declines
def _method_filter(where: _Where, method: str | None, column: str = "attempt_method") -> _Where:
    if method and method != "all":
        where.add(f"{column} = ?", method)
    return where


@query
def decline_mix(wh: Warehouse, method: str | None = None) -> pd.DataFrame:
    """One row per month per decline family of failed attempts: attempts and amount (reporting currency)."""
    where = _method_filter(_Where().add("is_failed"), method)
    return wh.query(f"""
        select attempt_period, decline_family, count(*) as attempts, sum(attempt_amount_reporting) as amount
        from marts.fct_payment_attempts
        {where.sql()}
        group by all order by attempt_period, decline_family""", where.params)


@query
def recovery_by_family(wh: Warehouse, method: str | None = None) -> pd.DataFrame:
    """One row per decline family over all mature cohorts: failed, recovered within 30/60 days, and by whom."""
    where = _method_filter(_Where(), method)
    return wh.query(f"""
        select
            decline_family,
            sum(failed_count) as failed_count,
            sum(failed_amount) as failed_amount,
            sum(recovered_30d_amount) / nullif(sum(mature_30d_amount), 0) as recovery_rate_30d,
            sum(recovered_60d_amount) / nullif(sum(mature_60d_amount), 0) as recovery_rate_60d,
            sum(recovered_30d_count) / nullif(sum(mature_30d_count), 0) as recovery_rate_30d_count,
            sum(recovered_30d_by_retry_count) as by_retry,
            sum(recovered_30d_by_customer_update_count) as by_customer_update,
            sum(recovered_30d_by_other_payment_count) as by_other_payment
        from reports.rpt_failed_payment_recovery
        {where.sql()}
        group by decline_family
        order by failed_amount desc""", where.params)


@query
def recovery_curve(wh: Warehouse, method: str | None = None, max_days: int = 60) -> pd.DataFrame:
    """One row per decline family per day 0..max_days after the first failure: share of episodes recovered by
    then, among episodes at least max_days old (so every point of a curve has the same denominator)."""
    where = _method_filter(_Where().add("days_since_failure >= ?", int(max_days)), method)
    return wh.query(f"""
        with episodes as (
            select decline_family, case when is_recovered then days_to_recovery end as days
            from marts.fct_failed_payment_episodes
            {where.sql()}
        ),
        totals as (
            select decline_family, count(*) as episodes from episodes group by decline_family
        ),
        days as (
            select unnest(range(0, ? + 1)) as day
        ),
        recovered as (
            select decline_family, days, count(*) as n from episodes where days is not null group by all
        )
        select
            t.decline_family, d.day, t.episodes,
            coalesce(sum(r.n), 0) / t.episodes as recovered_share
        from totals as t
        cross join days as d
        left join recovered as r on r.decline_family = t.decline_family and r.days <= d.day
        group by t.decline_family, d.day, t.episodes
        order by t.decline_family, d.day""", [*where.params, int(max_days)])


@query
def recovery_by_attempt(wh: Warehouse, method: str | None = None, max_retry: int = 8) -> pd.DataFrame:
    """One row per decline family (of the episode's first failure) per automatic retry after that failure (1 = the
    first retry): attempts made and the share that succeeded (from reports.rpt_recovery_by_attempt).
    Customer-initiated attempts are not retries."""
    where = _method_filter(_Where().add("retry_number <= ?", int(max_retry)), method)
    return wh.query(f"""
        select
            decline_family, retry_number, cast(sum(attempt_count) as bigint) as attempts,
            sum(succeeded_count) / sum(attempt_count) as success_rate
        from reports.rpt_recovery_by_attempt
        {where.sql()}
        group by all
        order by decline_family, retry_number""", where.params)


@query
def retry_compliance(wh: Warehouse) -> pd.DataFrame:
    """reports.rpt_retry_compliance: violations per month, rule, gateway, method and brand."""
    return wh.query("""
        select attempt_period, rule, gateway, attempt_method, card_brand, violation_count, reattempt_count
        from reports.rpt_retry_compliance order by attempt_period, rule""")


@query
def reattempts_monthly(wh: Warehouse, method: str | None = None) -> pd.DataFrame:
    """One row per month: reattempts, how many broke a network rule, and the compliant share."""
    where = _method_filter(_Where().add("is_reattempt"), method)
    return wh.query(f"""
        select
            attempt_period, count(*) as reattempts,
            count(*) filter (where not is_network_compliant) as violations,
            avg(cast(is_network_compliant as integer)) as compliant_share
        from marts.fct_payment_attempts
        {where.sql()}
        group by attempt_period order by attempt_period""", where.params)


@query
def nacha_rates(wh: Warehouse) -> pd.DataFrame:
    """reports.rpt_nacha_return_rates: 60-day ACH return rates at each month end with threshold breaches."""
    return wh.query("select * from reports.rpt_nacha_return_rates order by window_end")


@query
def chargebacks_monthly(wh: Warehouse) -> pd.DataFrame:
    """One row per month: disputes opened and the chargeback rate (disputes / card payments)."""
    return wh.query("""
        select period, disputes_opened, chargeback_rate
        from reports.rpt_operational_kpis_monthly
        where dimension = 'all' order by period""")


@query
def disputes_by_reason(wh: Warehouse) -> pd.DataFrame:
    """One row per network and reason code: disputes, amount (reporting currency at the disputed payment's rate),
    and how many were won, lost or are still open."""
    return wh.query("""
        select
            d.network, d.reason_code, coalesce(r.dispute_category, 'unmapped') as category,
            coalesce(r.description, '') as description, count(*) as disputes,
            sum(d.dispute_amount * coalesce(p.payment_amount_reporting / nullif(p.payment_amount, 0), 1)) as amount,
            count(*) filter (where d.status = 'won') as won, count(*) filter (where d.status = 'lost') as lost,
            count(*) filter (where d.status not in ('won', 'lost')) as still_open
        from staging.stg_raw__disputes as d
        left join marts.fct_payments as p on p.payment_id = d.payment_id
        left join reference.ref_chargeback_reasons as r
            on r.network = d.network and r.reason_code = d.reason_code
        group by all
        order by disputes desc, d.network, d.reason_code""")


RETRY_PLAN_COLUMNS = ["recommended_at", "invoice_id", "account_id", "account_name", "attempt_method", "card_brand",
                      "decline_family", "expected_success_probability", "do_not_retry", "rule_note"]


@query
def retry_plan(wh: Warehouse) -> pd.DataFrame:
    """models.retry_recommendations with account names: when to retry each open failed payment, or why not
    (retries first, by time; then the payments not to retry)."""
    if not wh.has("models.retry_recommendations"):
        return pd.DataFrame(columns=RETRY_PLAN_COLUMNS)
    return wh.query("""
        select r.recommended_at, r.invoice_id, r.account_id, a.account_name, r.attempt_method, r.card_brand,
               r.decline_family, r.expected_success_probability, r.do_not_retry, r.rule_note
        from models.retry_recommendations as r
        left join marts.dim_accounts as a on a.account_id = r.account_id
        order by r.do_not_retry, r.recommended_at, r.invoice_id""")


# ----------------------------------------------------------------------------------------------- worklist
def worklist_source(wh: Warehouse) -> str | None:
    """'worklist' when models.worklist exists, else 'risk_scores' when scores exist, else None."""
    if wh.has("models.worklist"):
        return "worklist"
    if wh.has("models.risk_scores"):
        return "risk_scores"
    return None


@query
def worklist_options(wh: Warehouse) -> pd.DataFrame:
    """Distinct (filter, value) pairs of the worklist: collector, segment, action (or item type)."""
    source = worklist_source(wh)
    if source == "worklist":
        return wh.query("""
            select distinct 'collector' as dimension, assigned_collector as value from models.worklist
            union all select distinct 'segment', segment from models.worklist
            union all select distinct 'action', next_action from models.worklist
            order by 1, 2""")
    if source == "risk_scores":
        return wh.query("""
            select distinct 'collector' as dimension, a.collector as value
            from models.risk_scores as r inner join marts.dim_accounts as a on a.account_id = r.account_id
            union all select distinct 'segment', a.segment
            from models.risk_scores as r inner join marts.dim_accounts as a on a.account_id = r.account_id
            union all select distinct 'item_type', item_type from models.risk_scores
            order by 1, 2""")
    return pd.DataFrame(columns=["dimension", "value"])


@query
def worklist(wh: Warehouse, collector: str | None = None, segments: Sequence[str] = (),
             actions: Sequence[str] = (), min_probability: float = 0.0, escalated_only: bool = False,
             limit: int | None = None) -> pd.DataFrame:
    """Today's worklist, one row per account needing action, by rank (models.worklist); or, before the
    worklist exists, one row per risk-scored open item by expected loss (models.risk_scores). `actions` filters
    next_action on the worklist and item_type on the risk scores."""
    source = worklist_source(wh)
    where = _Where()
    if source == "worklist":
        if collector:
            where.add("assigned_collector = ?", collector)
        where.add_in("segment", segments).add_in("next_action", actions)
        if min_probability:
            where.add("coalesce(max_probability, 0) >= ?", float(min_probability))
        if escalated_only:
            where.add("is_escalated")
        sql = f"""
            select
                rank, assigned_collector as collector, account_id, account_name, segment, next_action,
                action_template, action_due_date, needs_approval, item_count, open_items, exposure, expected_loss,
                max_probability, reason_1, reason_2, reason_3, oldest_days_past_due, is_reply_sla_breached,
                is_promise_due, has_broken_promise, is_escalated, escalation_reason
            from models.worklist
            {where.sql()}
            order by rank"""
    elif source == "risk_scores":
        if collector:
            where.add("a.collector = ?", collector)
        where.add_in("a.segment", segments).add_in("r.item_type", actions)
        if min_probability:
            where.add("r.p_not_recovered_30d >= ?", float(min_probability))
        sql = f"""
            select
                row_number() over (order by r.expected_loss desc, r.invoice_id) as rank, a.collector,
                r.account_id, a.account_name, a.segment, r.item_type, r.invoice_id, r.exposure, r.expected_loss,
                r.p_not_recovered_30d as max_probability, r.reason_1, r.reason_2, r.reason_3
            from models.risk_scores as r
            inner join marts.dim_accounts as a on a.account_id = r.account_id
            {where.sql()}
            order by r.expected_loss desc, r.invoice_id"""
    else:
        return pd.DataFrame()
    if limit:
        sql += f"\nlimit {int(limit)}"
    return wh.query(sql, where.params)


# ----------------------------------------------------------------------------------------------- forecast
PREFERRED_MODELS = ("reconciled", "combination")  # the forecast leads should see first, when the table has models


@dataclass(frozen=True)
class ForecastLayout:
    """Which columns of the forecast table play which role (tolerant of the layouts a forecast may take)."""

    table: str
    target: str
    value: str
    run: str | None
    series: str | None
    model: str | None
    intervals: tuple[str, ...]  # present ones of lo_95, lo_80, hi_80, hi_95


def _columns(wh: Warehouse, table: str) -> set[str]:
    schema, name = table.split(".")
    return set(wh.query("select column_name from information_schema.columns where table_schema = ? "
                        "and table_name = ? and table_catalog = current_database()", [schema, name])["column_name"])


def forecast_layout(wh: Warehouse) -> ForecastLayout | None:
    """The daily cash forecast table and its columns, or None when this warehouse has no (recognisable) forecast."""
    for table in FORECAST_TABLES:
        if not wh.has(table):
            continue
        columns = _columns(wh, table)

        def pick(*names, _columns=columns):
            return next((n for n in names if n in _columns), None)

        target, value = pick("target_date", "date", "ds"), pick("forecast", "yhat", "y_hat", "point_forecast")
        if target and value:
            return ForecastLayout(table, target, value, pick("forecast_date", "origin_date", "run_date", "made_on"),
                                  pick("series_id", "series", "series_name"), pick("model", "model_name"),
                                  tuple(c for c in ("lo_95", "lo_80", "hi_80", "hi_95") if c in columns))
    return None


@query
def forecast_options(wh: Warehouse) -> pd.DataFrame:
    """(dimension, value) pairs of the forecast: its series and models, the preferred model first."""
    layout = forecast_layout(wh)
    if layout is None:
        return pd.DataFrame(columns=["dimension", "value"])
    parts = []
    for dimension, column in (("series", layout.series), ("model", layout.model)):
        if column:
            parts.append(f"select distinct '{dimension}' as dimension, cast(\"{column}\" as varchar) as value "
                         f"from {layout.table}")
    if not parts:
        return pd.DataFrame(columns=["dimension", "value"])
    frame = wh.query(" union all ".join(parts) + " order by 1, 2")
    rank = {m: i for i, m in enumerate(PREFERRED_MODELS)}
    frame["order"] = [(rank.get(v, len(rank)) if d == "model" else (0 if v == "total" else 1)) for d, v in
                      zip(frame["dimension"], frame["value"], strict=True)]
    return frame.sort_values(["dimension", "order", "value"]).drop(columns="order").reset_index(drop=True)


def _forecast_where(wh: Warehouse, layout: ForecastLayout, series: str | None, model: str | None) -> _Where:
    where = _Where()
    if layout.series and series:
        where.add(f'cast("{layout.series}" as varchar) = ?', series)
    if layout.model:
        if not model:
            options = forecast_options(wh)
            models = values_of(options, "model")
            model = models[0] if models else None
        if model:
            where.add(f'cast("{layout.model}" as varchar) = ?', model)
    return where


@query
def forecast_latest(wh: Warehouse, series: str | None = None, model: str | None = None) -> pd.DataFrame:
    """The latest forecast run of one series and model: one row per target date with forecast and intervals."""
    layout = forecast_layout(wh)
    if layout is None:
        return pd.DataFrame()
    where = _forecast_where(wh, layout, series, model)
    if layout.run:
        inner = _forecast_where(wh, layout, series, model)
        where.add(f'"{layout.run}" = (select max("{layout.run}") from {layout.table} {inner.sql()})', *inner.params)
    intervals = "".join(f', "{c}" as {c}' for c in layout.intervals)
    run = f', "{layout.run}" as forecast_date' if layout.run else ""
    return wh.query(f"""
        select cast("{layout.target}" as date) as target_date, "{layout.value}" as forecast{intervals}{run}
        from {layout.table} {where.sql()} order by 1""", where.params)


@query
def forecast_history(wh: Warehouse, series: str | None = None, model: str | None = None,
                     days: int = 120) -> pd.DataFrame:
    """Past days (the last `days` up to the as-of date): what the forecast said and what came in, one row per
    target date. From the rolling-origin backtest (models.forecast_backtest: the shortest horizon per day; the
    `model` column says which model, the preferred backtested one when `model` itself was not backtested) when the
    build wrote one, else from forecasts kept by earlier runs against actual total cash."""
    layout = forecast_layout(wh)
    if layout is None:
        return pd.DataFrame()
    if wh.has("models.forecast_backtest") and {"actual", "horizon", "target_date", "forecast"} <= _columns(
            wh, "models.forecast_backtest"):
        where = _Where()
        if series:
            where.add("series_id = ?", series)
        tested = wh.query(f"select distinct model from models.forecast_backtest {where.sql()}",
                          where.params)["model"].tolist()
        rank = {m: i for i, m in enumerate(PREFERRED_MODELS)}
        shown = model if model in tested else min(tested, key=lambda m: (rank.get(m, len(rank)), m), default=None)
        if shown:
            where.add("model = ?", shown)
        return wh.query(f"""
            select cast(target_date as date) as target_date, model, forecast, lo_80, hi_80, lo_95, hi_95, actual,
                   horizon
            from models.forecast_backtest
            {where.sql()}
            qualify row_number() over (partition by target_date order by horizon, cutoff desc) = 1
                and cast(target_date as date) > (select max(cast(target_date as date))
                                                 from models.forecast_backtest) - cast(? as integer)
            order by target_date""", [*where.params, int(days)])
    where = _forecast_where(wh, layout, series, model)
    where.add(f'cast("{layout.target}" as date) <= (select max(report_date) from reports.rpt_kpis_daily)')
    order = f'"{layout.run}" desc' if layout.run else "1"
    if layout.run:
        where.add(f'cast("{layout.run}" as date) < cast("{layout.target}" as date)')
    intervals = "".join(f', "{c}" as {c}' for c in layout.intervals)
    return wh.query(f"""
        with forecasts as (
            select cast("{layout.target}" as date) as target_date, "{layout.value}" as forecast{intervals}
            from {layout.table}
            {where.sql()}
            qualify row_number() over (partition by cast("{layout.target}" as date) order by {order}) = 1
        )
        select f.*, d.cash_collected as actual
        from forecasts as f
        left join reports.rpt_kpis_daily as d on d.report_date = f.target_date
        where f.target_date > (select max(report_date) from reports.rpt_kpis_daily) - cast(? as integer)
        order by f.target_date""", [*where.params, int(days)])


@query
def forecast_accuracy(wh: Warehouse, series: str | None = None) -> pd.DataFrame:
    """models.forecast_accuracy for one series: one row per model (WAPE, MASE, bias, interval coverage)."""
    if not wh.has("models.forecast_accuracy"):
        return pd.DataFrame()
    where = _Where()
    if series:
        where.add("series_id = ?", series)
    return wh.query(f"select * from models.forecast_accuracy {where.sql()} order by wape", where.params)


@query
def forecast_weekly(wh: Warehouse, series: str | None = None) -> pd.DataFrame:
    """models.cash_forecast_weekly for one series: one row per week of the next 13, with intervals."""
    if not wh.has("models.cash_forecast_weekly"):
        return pd.DataFrame()
    where = _Where()
    if series:
        where.add("series_id = ?", series)
    return wh.query(f"select * from models.cash_forecast_weekly {where.sql()} order by week_start", where.params)


@query
def ar_projection(wh: Warehouse) -> pd.DataFrame:
    """models.ar_projection: expected closing AR at the next month end and quarter end, with intervals."""
    if not wh.has("models.ar_projection"):
        return pd.DataFrame()
    return wh.query("select * from models.ar_projection order by target_date")


@query
def backlog_recovery(wh: Warehouse) -> pd.DataFrame:
    """models.backlog_recovery: expected cumulative recovery of today's failed-payment backlog, by day."""
    if not wh.has("models.backlog_recovery"):
        return pd.DataFrame()
    return wh.query("select * from models.backlog_recovery order by day")


# Forecasts kept from build to build (models.forecast_log) against what came in.
def _series_filter(series: str | None) -> _Where:
    """fct_payments rows of a forecast series: 'total', 'payment_method:card', 'segment:smb'."""
    where = _Where()
    kind, _, value = (series or "total").partition(":")
    if kind in ("payment_method", "segment") and value:
        where.add(f"{kind} = ?", value)
    return where


def _kept(series: str | None, model: str | None) -> tuple[str, list]:
    """SQL of kept forecasts (one series and model) joined with actual cash, for target days up to the as-of date."""
    actual = _series_filter(series)
    actual.add("effective_date <= (select max(as_of_date) from raw._build_info)")
    return f"""
        with actual as (
            select effective_date as target_date, sum(payment_amount_reporting) as actual
            from marts.fct_payments {actual.sql()} group by effective_date
        )
        select k.forecast_date, k.target_date, k.forecast, k.lo_80, k.hi_80, k.lo_95, k.hi_95,
               coalesce(a.actual, 0) as actual
        from models.forecast_log as k
        left join actual as a on a.target_date = k.target_date
        where k.series_id = ? and k.model = ?
          and k.target_date <= (select max(as_of_date) from raw._build_info)""", [
        *actual.params, series or "total", model or "reconciled"]


@query
def kept_forecasts(wh: Warehouse, series: str | None = None, model: str | None = None) -> pd.DataFrame:
    """One row per forecast kept by an earlier build whose target days have started to come in: forecast date,
    days known, WAPE, bias and 80 % coverage over those days (series and model as on the forecast page)."""
    if not wh.has("models.forecast_log"):
        return pd.DataFrame()
    sql, params = _kept(series, model)
    return wh.query(f"""
        with kept as ({sql})
        select forecast_date, count(*) as days_known, sum(forecast) as forecast, sum(actual) as actual,
               sum(abs(forecast - actual)) / nullif(sum(actual), 0) as wape,
               (sum(forecast) - sum(actual)) / nullif(sum(actual), 0) as bias,
               avg(case when actual between lo_80 and hi_80 then 1.0 else 0.0 end) as coverage_80
        from kept group by forecast_date order by forecast_date desc""", params)


@query
def kept_forecast(wh: Warehouse, made_on: str, series: str | None = None, model: str | None = None) -> pd.DataFrame:
    """The forecast made on `made_on`, one row per target day up to the as-of date, with the actual cash."""
    if not wh.has("models.forecast_log"):
        return pd.DataFrame()
    sql, params = _kept(series, model)
    return wh.query(f"select * from ({sql}) where forecast_date = cast(? as date) order by target_date",
                    [*params, made_on])


# ----------------------------------------------------------------------------------------------- account 360
@query
def account_search(wh: Warehouse, text: str = "", limit: int = 200) -> pd.DataFrame:
    """Accounts whose id or name contains `text` (case-insensitive), largest open balance first."""
    where = _Where()
    if text.strip():
        where.add("(a.account_id ilike ? or a.account_name ilike ?)", f"%{text.strip()}%", f"%{text.strip()}%")
    return wh.query(f"""
        with open_ar as (
            select account_id, sum(open_amount_reporting) as open_amount
            from marts.fct_invoices where open_amount > 0 group by account_id
        )
        select a.account_id, a.account_name, a.segment, a.collector, coalesce(o.open_amount, 0) as open_amount
        from marts.dim_accounts as a
        left join open_ar as o on o.account_id = a.account_id
        {where.sql()}
        order by open_amount desc, a.account_id
        limit ?""", [*where.params, int(limit)])


@query
def account_profile(wh: Warehouse, account_id: str) -> pd.DataFrame:
    """One row: the account's attributes with open, overdue and lifetime figures (reporting currency)."""
    return wh.query("""
        with inv as (
            select
                count(*) filter (where open_amount > 0) as open_invoices,
                coalesce(sum(open_amount_reporting) filter (where open_amount > 0), 0) as open_amount,
                coalesce(sum(open_amount_reporting) filter (where open_amount > 0 and days_past_due > 0), 0)
                    as overdue_amount,
                max(days_past_due) filter (where open_amount > 0) as max_days_past_due,
                sum(invoice_amount_reporting) as lifetime_invoiced,
                avg(cast(is_paid_late as integer)) as late_share
            from marts.fct_invoices where account_id = ?
        ),
        pay as (
            select max(posted_local_date) as last_payment_date from marts.fct_payments where account_id = ?
        )
        select a.*, inv.*, pay.*
        from marts.dim_accounts as a cross join inv cross join pay
        where a.account_id = ?""", [account_id, account_id, account_id])


@query
def account_timeline(wh: Warehouse, account_id: str) -> pd.DataFrame:
    """One row per event of one account, newest first: invoices, payment attempts, payments, outreach, cases,
    promises, disputes, credits and write-offs. Columns: event_at, event_type, reference, invoice_id, amount,
    currency, status, detail (free text is card-masked at ingest)."""
    has = wh.has
    parts = ["""
        select posted_at as event_at, 'invoice' as event_type, invoice_id as reference, invoice_id,
               invoice_amount as amount, currency, invoice_status as status,
               'due ' || strftime(due_date, '%Y-%m-%d') as detail
        from marts.fct_invoices where account_id = $account""", """
        select attempted_at, 'payment attempt', attempt_id, invoice_id, attempt_amount, currency,
               outcome, attempt_method || coalesce(' / ' || nullif(decline_family, 'approved'), '')
                   || case when is_customer_initiated then ' (customer)' else '' end
        from marts.fct_payment_attempts where account_id = $account""", """
        select posted_at, 'payment', payment_id, null, payment_amount, currency,
               case when unapplied_amount > 0 then 'partly unapplied' else 'applied' end, payment_method
        from marts.fct_payments where account_id = $account""", """
        select promised_at, 'promise to pay', promise_id, invoice_id, promised_amount, currency, promise_status,
               'promised for ' || strftime(promised_date, '%Y-%m-%d')
        from marts.fct_promises_to_pay where account_id = $account"""]
    if has("staging.stg_raw__outreach"):
        parts.append("""
        select touched_at, 'outreach', touch_id, invoice_id, null, null, outcome,
               channel || ' ' || direction || coalesce(': ' || note, '')
        from staging.stg_raw__outreach where account_id = $account""")
    if has("staging.stg_raw__cases"):
        parts.append("""
        select opened_at, 'case', case_id, invoice_id, null, null, status,
               case_type || coalesce(': ' || subject, '')
        from staging.stg_raw__cases where account_id = $account""")
    if has("staging.stg_raw__disputes"):
        parts.append("""
        select opened_at, 'dispute', dispute_id, null, dispute_amount, currency, status,
               network || ' reason ' || reason_code
        from staging.stg_raw__disputes where account_id = $account""")
    if has("staging.stg_raw__credit_memos"):
        parts.append("""
        select posted_at, 'credit memo', credit_memo_id, invoice_id, credit_amount, currency, null, reason
        from staging.stg_raw__credit_memos where account_id = $account""")
    if has("staging.stg_raw__write_offs"):
        parts.append("""
        select posted_at, 'write-off', write_off_id, invoice_id, write_off_amount, currency, null, reason
        from staging.stg_raw__write_offs where account_id = $account""")
    if has("staging.stg_raw__refunds"):
        parts.append("""
        select posted_at, 'refund', refund_id, null, refund_amount, currency, null, reason
        from staging.stg_raw__refunds where account_id = $account""")
    sql = " union all ".join(parts)
    return wh.query(f"""
        select cast(event_at as timestamp) as event_at, event_type, reference, invoice_id,
               cast(amount as double) as amount, currency, status, detail
        from ({sql}) order by event_at desc, event_type, reference""".replace("$account", "$1"), [account_id])


@query
def account_risk(wh: Warehouse, account_id: str) -> pd.DataFrame:
    """The account's risk-scored open items, riskiest first: probability, exposure, expected loss, reasons."""
    if not wh.has("models.risk_scores"):
        return pd.DataFrame()
    return wh.query("""
        select invoice_id, item_type, p_not_recovered_30d, exposure, expected_loss, reason_1, reason_2, reason_3
        from models.risk_scores where account_id = ? order by expected_loss desc, invoice_id""", [account_id])


@query
def account_worklist(wh: Warehouse, account_id: str) -> pd.DataFrame:
    """The account's row of today's worklist (empty when it needs no action or there is no worklist)."""
    if not wh.has("models.worklist"):
        return pd.DataFrame()
    return wh.query("""
        select rank, assigned_collector as collector, next_action, action_template, action_due_date,
               needs_approval, is_escalated, escalation_reason
        from models.worklist where account_id = ?""", [account_id])


# ----------------------------------------------------------------------------------------------- quality, close
@query
def load_audit(wh: Warehouse) -> pd.DataFrame:
    """raw._load_audit: one row per contract entity of the last load."""
    return wh.query("""
        select entity, file, status, rows_read, rows_loaded, rows_quarantined, pans_masked, extra_columns,
               file_sha256
        from raw._load_audit order by entity""")


@query
def quarantine_summary(wh: Warehouse) -> pd.DataFrame:
    """One row per entity, column and reason: quarantined rows."""
    return wh.query("""
        select entity, coalesce(column_name, '(whole row)') as column_name, reason, count(*) as rows
        from raw._quarantine group by all order by rows desc, entity, reason""")


@query
def quarantine_rows(wh: Warehouse, entity: str | None = None, limit: int = 200) -> pd.DataFrame:
    """The first `limit` quarantined rows (of one entity), with file, row number, reason, every problem of the row
    (warehouses loaded before it was recorded: null) and the record."""
    where = _Where()
    if entity:
        where.add("entity = ?", entity)
    problems = "problems" if "problems" in _columns(wh, "raw._quarantine") else "cast(null as varchar) as problems"
    return wh.query(f"""
        select entity, file, source_row, column_name, reason, {problems}, record
        from raw._quarantine {where.sql()} order by entity, source_row limit ?""", [*where.params, int(limit)])


@query
def pan_mask_audit(wh: Warehouse) -> pd.DataFrame:
    """raw._pan_mask_audit: card numbers masked at ingest, per entity and column."""
    return wh.query("select entity, file, column_name, pans_masked from raw._pan_mask_audit order by entity")


@query
def validation_results(wh: Warehouse) -> pd.DataFrame:
    """quality.validation_results when the quality checks ran on this warehouse, else an empty frame."""
    if not wh.has("quality.validation_results"):
        return pd.DataFrame()
    return wh.query("""
        select stage, suite, expectation, table_name, column_name, severity, status, observed_value, details,
               description
        from quality.validation_results order by stage, status <> 'failed', severity, suite, expectation""")


@query
def rollforward(wh: Warehouse, currency: str | None = None) -> pd.DataFrame:
    """One row per posting period: opening AR + invoiced - cash - credits - write-offs + chargebacks = closing,
    with the ledger difference, the gap to the previous closing and the aging snapshot at month end (reporting
    currency for all currencies together; transaction currency when one is picked)."""
    sfx, where = ("_reporting", _Where()) if not currency else ("", _Where().add("currency = ?", currency))
    amt = "_amount" if currency else "_reporting"
    aging_where = "" if not currency else "where currency = ?"
    aging_col = "open_amount_reporting" if not currency else "open_amount"
    return wh.query(f"""
        with rf as (
            select
                posting_period, bool_or(is_open_period) as is_open_period,
                sum(opening_ar{sfx}) as opening_ar, sum(invoiced{amt}) as invoiced,
                sum(cash_applied{amt}) as cash_applied, sum(credit{amt}) as credits,
                sum(write_off{amt}) as write_offs, sum(chargeback{amt}) as chargebacks,
                sum(closing_ar{sfx}) as closing_ar
            from marts.fct_ar_rollforward {where.sql()}
            group by posting_period
        ),
        aging as (
            select date_trunc('month', snapshot_date) as posting_period, snapshot_date,
                   sum({aging_col}) as aging_total
            from marts.fct_aging_snapshots {aging_where}
            group by snapshot_date
            qualify row_number() over (partition by date_trunc('month', snapshot_date)
                                       order by snapshot_date desc) = 1
        )
        select
            rf.*,
            rf.opening_ar + rf.invoiced - rf.cash_applied - rf.credits - rf.write_offs + rf.chargebacks
                - rf.closing_ar as ledger_difference,
            rf.opening_ar - coalesce(lag(rf.closing_ar) over (order by rf.posting_period), 0) as opening_gap,
            aging.snapshot_date as aging_snapshot_date, aging.aging_total
        from rf
        left join aging on aging.posting_period = rf.posting_period
        order by rf.posting_period""", [*where.params, *([currency] if currency else [])])


@query
def rollforward_currencies(wh: Warehouse) -> pd.DataFrame:
    return wh.query("select distinct currency from marts.fct_ar_rollforward order by currency")


@query
def cutoff_summary(wh: Warehouse) -> pd.DataFrame:
    """One row per posting period, event type and currency: events posted after their business period ended."""
    return wh.query("""
        select posting_period, business_period, event_type, currency, count(*) as events, sum(amount) as amount,
               max(minutes_after_period_end) as max_minutes_late
        from reports.rpt_month_end_cutoff group by all order by posting_period, event_type""")


@query
def cutoff_rows(wh: Warehouse, limit: int = 500) -> pd.DataFrame:
    """The latest `limit` cutoff events (reports.rpt_month_end_cutoff)."""
    return wh.query("select * from reports.rpt_month_end_cutoff order by posted_at desc limit ?", [int(limit)])


@query
def unmapped_codes(wh: Warehouse) -> pd.DataFrame:
    """reports.rpt_unmapped_codes: gateway codes the reference seeds do not classify."""
    return wh.query("select * from reports.rpt_unmapped_codes order by attempt_count desc")


@query
def cash_exceptions(wh: Warehouse) -> pd.DataFrame:
    """marts.fct_cash_exceptions per type, reason and currency: items, amount, oldest age in days."""
    return wh.query("""
        select exception_type, reason, currency, count(*) as items, sum(exception_amount) as amount,
               max(age_days) as oldest_days
        from marts.fct_cash_exceptions group by all order by amount desc""")


# ----------------------------------------------------------------------------------------------- benchmarks
CASE_COLUMNS = ["priority", "case_type", "account_id", "account_name", "invoice_id", "subject", "description"]


@query
def cases_to_open(wh: Warehouse) -> pd.DataFrame:
    """models.cases_to_open with account names, high priority first: the CRM cases today's worklist calls for."""
    if not wh.has("models.cases_to_open"):
        return pd.DataFrame(columns=CASE_COLUMNS)
    return wh.query("""
        select c.priority, c.case_type, c.account_id, a.account_name, c.invoice_id, c.subject, c.description
        from models.cases_to_open as c
        left join marts.dim_accounts as a on a.account_id = c.account_id
        order by case c.priority when 'High' then 0 when 'Medium' then 1 else 2 end, c.account_id, c.invoice_id""")


def _overview(wh):
    return [kpi_monthly(wh), kpis_daily(wh), account_dimensions(wh)]


def _aging(wh):
    dates = aging_snapshot_dates(wh)
    out = [dates, aging_trend(wh), roll_rates(wh), account_dimensions(wh)]
    if len(dates):
        day = str(dates["snapshot_date"].iloc[0])[:10]
        accounts = aging_accounts(wh, day, "1-30")
        out.append(accounts)
        if len(accounts):
            out.append(aging_invoices(wh, day, accounts["account_id"].iloc[0]))
    return out


def _declines(wh):
    return [decline_mix(wh), recovery_by_family(wh), recovery_curve(wh), recovery_by_attempt(wh), retry_plan(wh),
            retry_compliance(wh), reattempts_monthly(wh), nacha_rates(wh), chargebacks_monthly(wh),
            disputes_by_reason(wh)]


def _worklist(wh):
    return [worklist_options(wh), worklist(wh), cases_to_open(wh)]


def _forecast(wh):
    options = forecast_options(wh)
    total = "total" if "total" in values_of(options, "series") else None
    return [options, forecast_latest(wh, series=total), forecast_history(wh, series=total),
            forecast_accuracy(wh, series=total), forecast_weekly(wh, series=total), ar_projection(wh),
            backlog_recovery(wh), kpis_daily(wh, days=120), kept_forecasts(wh, series=total)]


def _account(wh):
    accounts = account_search(wh)
    out = [accounts]
    if len(accounts):
        account = accounts["account_id"].iloc[0]
        out += [account_profile(wh, account), account_timeline(wh, account), account_risk(wh, account),
                account_worklist(wh, account)]
    return out


def _quality(wh):
    return [build_info(wh), load_audit(wh), quarantine_summary(wh), quarantine_rows(wh), pan_mask_audit(wh),
            validation_results(wh), rollforward(wh), rollforward_currencies(wh), cutoff_summary(wh),
            cutoff_rows(wh), unmapped_codes(wh), cash_exceptions(wh)]


PAGE_QUERIES: dict[str, Callable[[Warehouse], list[pd.DataFrame]]] = {
    "overview": _overview, "aging": _aging, "declines": _declines, "worklist": _worklist,
    "forecast": _forecast, "account": _account, "quality": _quality,
}


def time_pages(path: Path | str, repeats: int = 3) -> pd.DataFrame:
    """Wall seconds of the queries behind each page's default render, uncached, on a fresh connection.

    One row per page: best and median of `repeats` runs, and the rows returned. Use it in benchmarks/.
    """
    wh = Warehouse(path)
    wh.check()
    rows = []
    for page, run in PAGE_QUERIES.items():
        times, frames = [], []
        for _ in range(repeats):
            started = time.perf_counter()
            frames = run(wh)
            times.append(time.perf_counter() - started)
        times.sort()
        rows.append({"page": page, "best_seconds": times[0], "median_seconds": times[len(times) // 2],
                     "rows": sum(len(f) for f in frames)})
    return pd.DataFrame(rows)
