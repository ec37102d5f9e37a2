"""Aging: open AR by bucket over time, roll rates between month ends, drill-down bucket -> account -> invoice."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui

ui.require_warehouse()
ui.header("Aging", "Open receivables by days past due (reporting currency, invoice level, gross)")

dims = data.load(data.account_dimensions)
c1, c2, c3 = st.columns([2, 1, 1])
segments = c1.multiselect("Segment", data.values_of(dims, "segment"), format_func=ui.label, key="aging_segments",
                          placeholder="All segments")
collector = c2.selectbox("Collector", ["All collectors", *data.values_of(dims, "collector")], key="aging_collector")
collector = None if collector == "All collectors" else collector
share = c3.toggle("Show shares", key="aging_share", help="Each bar as 100 % of that day's open AR.")

trend = data.load(data.aging_trend, segments=segments, collector=collector)
if trend.empty:
    st.info("No open receivables for this selection.")
else:
    last_day = trend["snapshot_date"].max()
    now = trend[trend["snapshot_date"] == last_day].set_index("aging_bucket")
    total = float(now["amount"].sum())
    past_due = float(now.drop(index="current", errors="ignore")["amount"].sum())
    over_90 = float(now.reindex(["91-120", "120+"])["amount"].fillna(0).sum())
    cols = st.columns(4)
    cols[0].metric(f"Open AR · {pd.Timestamp(last_day):%d %b %Y}", ui.money(total), border=True)
    cols[1].metric("Past due", ui.money(past_due), f"{past_due / total:.1%} of open AR" if total else None,
                   delta_color="off", delta_arrow="off", border=True)
    cols[2].metric("Over 90 days", ui.money(over_90), f"{over_90 / total:.1%} of open AR" if total else None,
                   delta_color="off", delta_arrow="off", border=True)
    cols[3].metric("Open invoices", ui.count(now["invoice_count"].sum()), border=True)
    st.plotly_chart(charts.aging_stacked(trend, share), width="stretch", key="aging_trend")

# ----------------------------------------------------------------------------------------------- roll rates
st.subheader("Roll rates")
st.caption("Where each bucket's amount at one month end sat a month later (whole book; filters above do not apply).")
rates = data.load(data.roll_rates)
if rates.empty:
    st.info("Roll rates need at least two month ends.")
else:
    transitions = sorted(rates["to_date"].drop_duplicates(), reverse=True)
    left, right = st.columns([2, 3])
    choice = left.selectbox("Month", ["Average of the last 3 months", *transitions], key="aging_roll_month",
                            format_func=lambda d: d if isinstance(d, str) else
                            f"{pd.Timestamp(d) - pd.offsets.MonthEnd(1):%b %Y} -> {pd.Timestamp(d):%b %Y}")
    if isinstance(choice, str):
        picked = rates[rates["to_date"].isin(transitions[:3])]
        title = "Roll rates, last 3 months together"
    else:
        picked = rates[rates["to_date"] == choice]
        title = f"Roll rates to {pd.Timestamp(choice):%d %b %Y}"
    left.plotly_chart(charts.roll_rate_matrix(picked, title), width="stretch", key="aging_roll_matrix")
    right.plotly_chart(charts.roll_forward_trend(rates), width="stretch", key="aging_roll_trend")

# ----------------------------------------------------------------------------------------------- drill-down
st.subheader("Drill down: bucket -> account -> invoice")
dates = data.load(data.aging_snapshot_dates)
if dates.empty:
    st.info("No aging snapshots in this warehouse.")
    st.stop()
c1, c2, _ = st.columns([1, 1, 2])
snapshot = c1.selectbox("Snapshot", dates["snapshot_date"].tolist(), key="aging_snapshot",
                        format_func=lambda d: f"{pd.Timestamp(d):%d %b %Y}")
snapshot = str(pd.Timestamp(snapshot).date())
at_snapshot = trend[pd.to_datetime(trend["snapshot_date"]) == pd.Timestamp(snapshot)].set_index("aging_bucket")
bucket = c2.selectbox("Bucket", list(data.AGING_BUCKETS), index=1, key="aging_bucket",
                      format_func=lambda b: f"{b} ({ui.money(at_snapshot['amount'].get(b))})"
                      if b in at_snapshot.index else f"{b} (none)")
accounts = data.load(data.aging_accounts, snapshot_date=snapshot, bucket=bucket, segments=segments,
                     collector=collector, limit=500)
if accounts.empty:
    st.info("No open invoices in this bucket for this selection.")
    st.stop()
st.caption(f"{len(accounts):,} accounts with invoices in {bucket} on {snapshot}, largest first"
           + (" (the largest 500)" if len(accounts) == 500 else ""))
st.dataframe(accounts.assign(segment=accounts["segment"].map(ui.label)), hide_index=True, width="stretch",
             height=ui.table_height(len(accounts), 10),
             key="aging_accounts", column_config={
                 "account_id": "Account", "account_name": "Name", "segment": "Segment", "collector": "Collector",
                 "invoices": st.column_config.NumberColumn("Invoices in bucket", format="localized"),
                 "open_amount": st.column_config.NumberColumn("Open in bucket", format="dollar"),
                 "max_days_past_due": st.column_config.NumberColumn("Oldest (days past due)", format="localized")})
by_id = accounts.set_index("account_id")
c1, _ = st.columns([2, 2])
account = c1.selectbox("Account", accounts["account_id"].tolist(), key="aging_account",
                       format_func=lambda a: f"{a} · {by_id.at[a, 'account_name']} · "
                                             f"{ui.money(by_id.at[a, 'open_amount'])}")
invoices = data.load(data.aging_invoices, snapshot_date=snapshot, account_id=account)
st.caption(f"Open invoices of {account} on {snapshot}, every bucket (status today in the last column)")
st.dataframe(invoices, hide_index=True, width="stretch", height=ui.table_height(len(invoices), 12),
             key="aging_invoices", column_config={
                 "invoice_id": "Invoice", "aging_bucket": "Bucket", "days_past_due": "Days past due",
                 "due_date": st.column_config.DateColumn("Due", format="YYYY-MM-DD"),
                 "invoice_date": st.column_config.DateColumn("Invoiced", format="YYYY-MM-DD"), "currency": "Currency",
                 "invoice_amount": st.column_config.NumberColumn("Amount", format="accounting"),
                 "open_amount": st.column_config.NumberColumn("Open", format="accounting"),
                 "open_amount_reporting": st.column_config.NumberColumn("Open (reporting)", format="dollar"),
                 "status_today": "Status today"})
