"""Forecast: cash expected in the coming days and weeks with intervals, how past forecasts compared with what came
in, the month-end AR projection and the recovery of today's failed-payment backlog."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui

wh = ui.require_warehouse()
ui.header("Forecast", "Cash expected in the coming days and weeks, with 80 % and 95 % intervals")

layout = data.forecast_layout(wh)
actual = data.load(data.kpis_daily, days=120)
if layout is None:
    st.info("No forecast in this warehouse yet: the cash forecast (models.cash_forecast) is written by "
            "`dunning build` once the forecasting step has run on it. Here is the cash actually collected.")
    st.plotly_chart(charts.daily_cash(actual, "Daily cash collected, last 120 days"), width="stretch",
                    key="forecast_actual_only")
    st.stop()


def series_label(value: str) -> str:
    if value in ("total", "all"):
        return "Total cash"
    kind, _, name = str(value).partition(":")
    return f"{ui.label(kind).capitalize()}: {ui.label(name)}" if name else ui.label(value)


options = data.load(data.forecast_options)
series_values, model_values = data.values_of(options, "series"), data.values_of(options, "model")
c1, c2, _ = st.columns([1, 1, 2])
series = c1.selectbox("Series", series_values, format_func=series_label, key="forecast_series") \
    if series_values else None
model = c2.selectbox("Model", model_values, format_func=ui.label, key="forecast_model",
                     help="'reconciled' is the combination adjusted so that methods and segments add up to the "
                          "total.") if model_values else None

latest = data.load(data.forecast_latest, series=series, model=model)
if latest.empty:
    st.info("The forecast table has no rows for this selection.")
    st.stop()

run_day = latest["forecast_date"].max() if "forecast_date" in latest else None
st.caption(f"From {layout.table}" + (f", made on {pd.Timestamp(run_day):%d %b %Y}" if run_day is not None
                                     and not pd.isna(run_day) else "") + ".")
target = pd.to_datetime(latest["target_date"])
start = target.min()
horizon = int((target.max() - start).days) + 1
windows = [(f"Next {d} days", d) for d in (7, 30) if d < horizon] + [(f"Whole horizon ({horizon} days)", horizon)]
month_end = start + pd.offsets.MonthEnd(0)
cols = st.columns(len(windows) + 1)
for col, (title, days) in zip(cols, windows, strict=False):
    part = latest[target < start + pd.Timedelta(days=days)]
    low = part["lo_80"].sum() if "lo_80" in part else None
    high = part["hi_80"].sum() if "hi_80" in part else None
    col.metric(title, ui.money(part["forecast"].sum()), border=True,
               help="Sum of the daily forecasts" + (f"; summed 80 % bounds {ui.money(low)} - {ui.money(high)} "
                                                    "(wider than the true band of the total)" if low is not None
                                                    else ""))
cols[-1].metric(f"To month end ({month_end:%d %b})", ui.money(latest[target <= month_end]["forecast"].sum()),
                border=True)

is_total = series is None or series in ("total", "all")
recent = actual[pd.to_datetime(actual["report_date"]) > pd.to_datetime(actual["report_date"]).max()
                - pd.Timedelta(days=45)] if is_total else actual.iloc[0:0]
st.plotly_chart(charts.forecast_fan(recent, latest.head(60), f"{series_label(series or 'total')}: next "
                                    f"{min(horizon, 60)} days" + (" after the last 45 days of actual cash"
                                                                  if is_total else "")),
                width="stretch", key="forecast_fan")

weekly = data.load(data.forecast_weekly, series=series)
if not weekly.empty:
    st.plotly_chart(charts.weekly_forecast(weekly), width="stretch", key="forecast_weekly")

# ----------------------------------------------------------------------------------------------- accuracy
st.subheader("Forecast vs actual")
history = data.load(data.forecast_history, series=series, model=model, days=120)
if history.empty or history["actual"].isna().all():
    st.info("No past forecasts to compare with actual cash yet: every forecast made is kept, so this fills up "
            "as builds run day after day.")
else:
    scored = history.dropna(subset=["actual"])
    total_actual = max(float(scored["actual"].abs().sum()), 1e-9)
    wape = float(np.abs(scored["forecast"] - scored["actual"]).sum()) / total_actual
    bias = float((scored["forecast"] - scored["actual"]).sum()) / total_actual
    shown_model = history["model"].iloc[0] if "model" in history else model
    if "horizon" in history:
        st.caption(f"Rolling-origin backtest of the {ui.label(shown_model)} model"
                   + (f" ('{ui.label(model)}' itself is not backtested)" if model and shown_model != model else "")
                   + ": for each past day, the forecast made the fewest days before it.")
    cols = st.columns(3)
    cols[0].metric("WAPE", ui.pct(wape), border=True, help="Sum of absolute errors / sum of actuals.")
    cols[1].metric("Bias", ui.pct(bias), border=True, help="Over (+) or under (-) forecasting, share of actuals.")
    if {"lo_80", "hi_80"} <= set(scored.columns):
        inside = ((scored["actual"] >= scored["lo_80"]) & (scored["actual"] <= scored["hi_80"])).mean()
        cols[2].metric("80 % interval coverage", ui.pct(inside), border=True,
                       help="Share of days whose actual fell inside the 80 % interval (target 75-85 %).")
    st.plotly_chart(charts.forecast_vs_actual(history), width="stretch", key="forecast_history")

# Every forecast is kept (models.forecast_log): how the forecasts of earlier builds did against what came in.
kept = data.load(data.kept_forecasts, series=series, model=model)
if run_day is not None and not kept.empty:
    kept = kept[pd.to_datetime(kept["forecast_date"]) < pd.Timestamp(run_day)]
st.markdown("**Forecasts kept from earlier builds**")
if kept.empty:
    st.caption("Every forecast made is kept from build to build: once a later build runs, this shows how each "
               "earlier forecast compared with the cash that came in.")
else:
    st.dataframe(kept, hide_index=True, width="stretch", key="kept_forecasts",
                 column_order=["forecast_date", "days_known", "forecast", "actual", "wape", "bias", "coverage_80"],
                 column_config={
                     "forecast_date": st.column_config.DateColumn("Made on"), "days_known": "Days known",
                     "forecast": st.column_config.NumberColumn("Forecast", format="dollar"),
                     "actual": st.column_config.NumberColumn("Actual", format="dollar"),
                     "wape": st.column_config.NumberColumn("WAPE", format="percent"),
                     "bias": st.column_config.NumberColumn("Bias", format="percent"),
                     "coverage_80": st.column_config.NumberColumn("Coverage 80 %", format="percent")})
    made_on = st.selectbox("Forecast made on", pd.to_datetime(kept["forecast_date"]).dt.date.tolist(),
                           format_func=lambda d: f"{d:%d %b %Y}", key="kept_forecast_date")
    past = data.load(data.kept_forecast, made_on=str(made_on), series=series, model=model)
    st.plotly_chart(charts.forecast_vs_actual(past, f"The forecast made on {made_on:%d %b %Y} and the cash that "
                                                    "came in"), width="stretch", key="kept_forecast_chart")

accuracy = data.load(data.forecast_accuracy, series=series)
if not accuracy.empty:
    st.caption("Backtest accuracy by model (lower WAPE is better; coverage should be near 80 % and 95 %)")
    st.dataframe(accuracy.assign(model=accuracy["model"].map(ui.label)), hide_index=True, width="stretch",
                 key="forecast_accuracy", column_order=["model", "wape", "mase", "bias", "coverage_80", "coverage_95",
                                                        "weekly_wape", "weekly_coverage_80", "windows", "days"],
                 column_config={
                     "model": "Model", "wape": st.column_config.NumberColumn("WAPE", format="percent"),
                     "mase": st.column_config.NumberColumn("MASE", format="%.2f"),
                     "bias": st.column_config.NumberColumn("Bias", format="percent"),
                     "coverage_80": st.column_config.NumberColumn("Coverage 80 %", format="percent"),
                     "coverage_95": st.column_config.NumberColumn("Coverage 95 %", format="percent"),
                     "weekly_wape": st.column_config.NumberColumn("Weekly WAPE", format="percent"),
                     "weekly_coverage_80": st.column_config.NumberColumn("Weekly coverage 80 %", format="percent"),
                     "windows": "Backtest windows", "days": "Days"})

# ----------------------------------------------------------------------------------------------- AR and backlog
projection = data.load(data.ar_projection)
backlog = data.load(data.backlog_recovery)
if not projection.empty or not backlog.empty:
    st.subheader("Month end and failed-payment backlog")
    left, right = st.columns(2)
    with left:
        for row in projection.itertuples():
            band = (f"80 %: {ui.money(max(row.lo_80, 0))} - {ui.money(row.hi_80)}"
                    if hasattr(row, "lo_80") and not pd.isna(row.lo_80) else None)
            st.metric(f"Closing AR at {ui.label(row.target)} ({pd.Timestamp(row.target_date):%d %b %Y})",
                      ui.money(row.closing_ar), band, delta_color="off", delta_arrow="off", border=True,
                      help=f"Opening {ui.money(row.opening_ar)} + expected invoicing "
                           f"{ui.money(row.expected_invoicing)} - expected cash {ui.money(row.expected_cash)} - "
                           f"expected write-offs {ui.money(row.expected_write_offs)}")
    with right:
        if not backlog.empty:
            by_30 = backlog[backlog["day"] <= 30]["expected_recovered"].sum()
            st.metric("Failed-payment backlog today", ui.money(backlog["backlog_amount"].iloc[0]),
                      f"{ui.money(by_30)} expected back within 30 days", delta_color="off", delta_arrow="off",
                      border=True, help=f"{int(backlog['backlog_items'].iloc[0]):,} open failed payments")
    if not backlog.empty:
        st.plotly_chart(charts.backlog_curve(backlog), width="stretch", key="forecast_backlog")

with st.expander("Forecast table"):
    st.dataframe(latest, hide_index=True, width="stretch", key="forecast_table")
