"""Overview: the daily status of collections for a lead — KPI tiles with trends, what changed since yesterday."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui

ui.require_warehouse()
ui.header("Overview", "Daily status of receivables and collections")

VIEW_LABELS = {"all": "All accounts", "segment": "Segment", "collector": "Collector",
               "billing_method": "Billing method"}
dims = data.load(data.account_dimensions)
left, right, _ = st.columns([1, 1, 2])
dimension = left.selectbox("View by", list(VIEW_LABELS), format_func=VIEW_LABELS.get, key="overview_dimension")
if dimension == "all":
    value = "all"
    right.selectbox("Value", ["all accounts"], disabled=True, key="overview_value_all")
else:
    value = right.selectbox(VIEW_LABELS[dimension], data.values_of(dims, dimension), format_func=ui.label,
                            key=f"overview_value_{dimension}")

monthly = data.load(data.kpi_monthly, dimension=dimension, value=value or "all")
if monthly.empty:
    st.info("No monthly KPIs for this selection.")
    st.stop()


def latest(column: str) -> tuple[float | None, float | None, pd.Timestamp | None, pd.Timestamp | None, list]:
    """The last non-null value of a monthly column, the one before, their months, and the last 12 values."""
    series = monthly[["period", column]].dropna()
    if series.empty:
        return None, None, None, None, []
    last = series.iloc[-1]
    before = series.iloc[-2] if len(series) > 1 else None
    return (float(last[column]), None if before is None else float(before[column]), last["period"],
            None if before is None else before["period"], series[column].astype(float).tail(12).tolist())


TILES = [  # column, title, kind, delta colour, help
    ("ending_ar", "Open AR", "money", "off", "Open receivables at month end (the as-of date for the open month)."),
    ("simple_dso_days", "DSO", "days", "inverse", "Simple DSO: ending AR / credit sales x days in the period."),
    ("countback_dso_days", "Countback DSO", "days", "inverse",
     "Walk back from month-end AR through each month's credit sales, counting days."),
    ("average_days_delinquent", "Avg days delinquent", "days", "inverse",
     "ADD = simple DSO - best possible DSO (current AR / credit sales x days)."),
    ("cei_pct", "CEI", "percent", "normal",
     "Collection effectiveness index: share of collectible AR collected in the month (100 % = everything)."),
    ("failed_payment_recovery_rate_30d", "Recovered in 30 d", "rate", "normal",
     "Share of failed card/ACH payments recovered within 30 days, by cohort month of first failure "
     "(only cohorts at least 30 days old)."),
    ("unapplied_cash_at_period_end", "Unapplied cash", "money", "inverse",
     "Received - applied - refunded at month end: cash waiting to be matched to invoices."),
    ("promise_kept_rate", "Promises kept", "rate", "normal",
     "Promises to pay whose grace period ended in the month and that were paid in full."),
]

st.subheader("Key figures")
open_month = monthly.loc[monthly["is_open_period"].astype(bool), "period"]
st.caption("Latest month with a value; " + (f"{ui.month(open_month.iloc[0])} is the open month (to the as-of "
                                             "date). " if len(open_month) else "")
           + "Change against the month before; sparkline: the last 12 months.")
for row in (TILES[:4], TILES[4:]):
    for col, (column, title, kind, direction, help_text) in zip(st.columns(4), row, strict=True):
        value_now, value_before, period, period_before, trend = latest(column)
        delta = None if value_now is None or value_before is None else value_now - value_before
        delta_text = ui.fmt_delta(kind, delta)
        col.metric(title if delta_text else f"{title} · {ui.month(period)}", ui.fmt(kind, value_now), delta_text,
                   delta_color=direction, help=help_text, border=True, chart_data=trend or None,
                   chart_type="area", delta_description=f"{period:%b} vs {period_before:%b}"
                   if delta_text else None)

# ----------------------------------------------------------------------------------------------- yesterday
daily = data.load(data.kpis_daily, days=60)
changes = data.daily_changes(daily)
st.subheader("What changed since yesterday")
if changes.empty:
    st.info("Fewer than two days of activity in this warehouse.")
else:
    last_day = pd.Timestamp(daily["report_date"].iloc[-1])
    prev_day = pd.Timestamp(daily["report_date"].iloc[-2])
    st.caption(f"{last_day:%A %d %b} compared with {prev_day:%A %d %b}"
               + (" (a weekend day: banks and card settlements are quiet)" if last_day.day_of_week >= 5 else ""))
    cols = st.columns(4)
    for col, metric in zip(cols, ["Cash collected", "Failed payment attempts", "Amount recovered",
                                  "Open AR (end of day)"], strict=True):
        row = changes.set_index("metric").loc[metric]
        direction = "inverse" if metric in ("Failed payment attempts", "Open AR (end of day)") else "normal"
        col.metric(metric, ui.fmt(row["kind"], row["today"]), ui.fmt_delta(row["kind"], row["change"]),
                   delta_color=direction, border=True, delta_description="vs the day before")
    table = pd.DataFrame({
        "Metric": changes["metric"],
        f"{last_day:%a %d %b}": [(ui.money if k == "money" else ui.count)(v) for k, v in
                                  zip(changes["kind"], changes["today"], strict=True)],
        f"{prev_day:%a %d %b}": [(ui.money if k == "money" else ui.count)(v) for k, v in
                                  zip(changes["kind"], changes["yesterday"], strict=True)],
        "Change": [ui.fmt_delta(k, c) or "0" for k, c in zip(changes["kind"], changes["change"], strict=True)],
        "Average of the 7 days before": [ui.money(v) if k == "money" else f"{v:,.1f}" for k, v in
                                         zip(changes["kind"], changes["avg_prior_7d"], strict=True)],
    })
    left, right = st.columns([2, 3])
    left.dataframe(table, hide_index=True, width="stretch")
    right.plotly_chart(charts.daily_activity(daily), width="stretch", key="overview_daily")

# ----------------------------------------------------------------------------------------------- trends
st.subheader("Monthly trends")
st.caption("Hollow markers: the open month (to the as-of date).")
left, right = st.columns(2)
left.plotly_chart(charts.kpi_lines(monthly, {"simple_dso_days": "DSO", "countback_dso_days": "Countback DSO",
                                             "best_possible_dso_days": "Best possible DSO"},
                                   "Days sales outstanding", "days", dashed=("best_possible_dso_days",)),
                  width="stretch", key="overview_dso")
right.plotly_chart(charts.kpi_lines(monthly, {"cei_pct": "CEI (month)", "cei_3m_pct": "CEI (trailing 3 months)"},
                                    "Collection effectiveness index", "%"), width="stretch", key="overview_cei")
left, right = st.columns(2)
left.plotly_chart(charts.kpi_lines(monthly, {"failed_payment_recovery_rate_30d": "Failed payments recovered in 30 d",
                                             "promise_kept_rate": "Promises kept"},
                                   "Recovery and promises", y_format=".0%"), width="stretch", key="overview_rates")
right.plotly_chart(charts.kpi_lines(monthly, {"ending_past_due_ar": "Past-due AR",
                                              "unapplied_cash_at_period_end": "Unapplied cash",
                                              "write_offs": "Written off in month"},
                                    "Past due, unapplied and written off", y_format="$,.3s"),
                   width="stretch", key="overview_money")
