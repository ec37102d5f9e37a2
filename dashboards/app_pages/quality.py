"""Data quality and close: what the last load kept out and masked, validation results, the AR roll-forward and
month-end cutoff checks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui
from data_quality.pan import mask_pans

ui.require_warehouse()
ui.header("Data quality and close", "Is the data complete, clean and safe, and does the ledger tie out?")

audit = data.load(data.load_audit)
quarantine = data.load(data.quarantine_summary)
masked = data.load(data.pan_mask_audit)
info = data.load(data.build_info)
results = data.load(data.validation_results)

cols = st.columns(5)
cols[0].metric("Rows read", ui.count(audit["rows_read"].sum()), border=True)
cols[1].metric("Rows quarantined", ui.count(audit["rows_quarantined"].sum()), border=True,
               help="Rows that broke the raw contract: kept out of the warehouse, listed below with the reason.")
conserved = bool((audit["rows_read"] == audit["rows_loaded"] + audit["rows_quarantined"]).all())
cols[2].metric("Rows accounted for", "all" if conserved else "NOT ALL", border=True,
               help="read = loaded + quarantined, for every file")
cols[3].metric("Cards masked", ui.count(masked["pans_masked"].sum() if len(masked) else 0), border=True,
               help="Card numbers found in free text at ingest and masked before anything was stored.")
failed = results[results["status"] == "failed"] if len(results) else results
cols[4].metric("Failed checks", "not run" if results.empty else ui.count(len(failed)), border=True,
               help="Expectations of quality.validation_results that failed (errors and warnings).")

# ----------------------------------------------------------------------------------------------- load
st.subheader("Last load")
if quarantine.empty:
    st.success("Nothing was quarantined: every row of every file met the raw contract.")
else:
    left, right = st.columns([1, 2])
    left.plotly_chart(charts.quarantine_bars(quarantine), width="stretch", key="quality_quarantine_chart")
    right.caption("Quarantine reasons")
    right.dataframe(quarantine, hide_index=True, width="stretch", key="quality_reasons",
                    height=ui.table_height(len(quarantine), 8))
    entity = st.selectbox("Quarantined rows of", ["All entities", *sorted(quarantine["entity"].unique())],
                          key="quality_entity")
    rows = data.load(data.quarantine_rows, entity=None if entity == "All entities" else entity, limit=200)
    rows["record"] = rows["record"].map(lambda r: mask_pans(r)[0] if isinstance(r, str) else r)
    st.dataframe(rows, hide_index=True, width="stretch", key="quality_rows", placeholder="",
                 height=ui.table_height(len(rows), 10), column_config={
                     "problems": st.column_config.TextColumn("Every problem of the row", width="medium"),
                     "record": st.column_config.TextColumn("Record as read (card numbers masked)", width="large")})
st.caption("Load audit: one row per file")
st.dataframe(audit, hide_index=True, width="stretch", key="quality_audit", height=ui.table_height(len(audit), 16),
             placeholder="", column_config={
                 "entity": "Entity", "file": "File", "status": "Status", "rows_read": "Read", "rows_loaded": "Loaded",
                 "rows_quarantined": "Quarantined", "pans_masked": "Cards masked", "extra_columns": "Extra columns",
                 "file_sha256": st.column_config.TextColumn("SHA-256", width="small")})
if len(masked):
    st.caption("Card numbers masked at ingest, by column: "
               + "; ".join(f"{r.entity}.{r.column_name}: {r.pans_masked:,}" for r in masked.itertuples()))
unmapped = data.load(data.unmapped_codes)
if len(unmapped):
    st.warning(f"{len(unmapped)} gateway code(s) are not in the reference seeds: their declines are classified as "
               "unknown until the seeds are extended.")
    st.dataframe(unmapped, hide_index=True, width="stretch", key="quality_unmapped")

# ----------------------------------------------------------------------------------------------- validation
st.subheader("Validation results")
if results.empty:
    st.info("No validation results in this warehouse: quality.validation_results is written when the data quality "
            "checks run as part of the build.")
else:
    counts = results.pivot_table(index=["stage", "suite"], columns="status", values="expectation",
                                 aggfunc="count", fill_value=0).reset_index()
    left, right = st.columns([2, 3])
    left.dataframe(counts, hide_index=True, width="stretch", key="quality_counts")
    show_all = right.toggle("Show passed checks too", key="quality_show_all")
    right.dataframe(results if show_all else results[results["status"] != "passed"], hide_index=True,
                    width="stretch", key="quality_results", placeholder="")

# ----------------------------------------------------------------------------------------------- close
st.subheader("Close: AR roll-forward")
currencies = data.load(data.rollforward_currencies)["currency"].tolist()
c1, c2, _ = st.columns([1, 1, 2])
currency = c1.selectbox("Currency", ["All (reporting currency)", *currencies], key="quality_currency")
currency = None if currency.startswith("All") else currency
roll = data.load(data.rollforward, currency=currency)
if roll.empty:
    st.info("No roll-forward in this warehouse.")
else:
    roll["ties_out"] = (roll["ledger_difference"].abs() < 0.005) & (roll["opening_gap"].abs() < 0.005) & (
        (roll["aging_total"] - roll["closing_ar"]).abs() < 0.01)
    period = c2.selectbox("Period", roll["posting_period"].tolist()[::-1], key="quality_period",
                          format_func=lambda d: f"{pd.Timestamp(d):%b %Y}")
    row = roll[roll["posting_period"] == period].iloc[0]
    bad = roll[~roll["ties_out"]]
    if bad.empty:
        st.success(f"Ties out in all {len(roll)} periods: opening + movements = closing, each opening = the previous "
                   "closing, and each closing = the aging total on the last snapshot of the month.")
    else:
        st.error(f"{len(bad)} period(s) do not tie out: see the rows without a tick under 'Ties out'.")
    left, right = st.columns([3, 2])
    left.plotly_chart(charts.rollforward_waterfall(row, f"{pd.Timestamp(period):%B %Y}"
                                                   + (" (open period)" if row["is_open_period"] else "")
                                                   + (f", {currency}" if currency else ", reporting currency")),
                      width="stretch", key="quality_waterfall")
    checks = roll.assign(aging_difference=roll["aging_total"] - roll["closing_ar"])
    amount = st.column_config.NumberColumn(format="accounting")
    right.caption("Checks per period (differences should all be 0.00)")
    right.dataframe(checks, hide_index=True, width="stretch", key="quality_checks",
                    height=ui.table_height(len(checks), 9),
                    column_order=["posting_period", "ties_out", "ledger_difference", "opening_gap",
                                  "aging_difference"],
                    column_config={
                        "posting_period": st.column_config.DateColumn("Period", format="YYYY-MM"),
                        "ties_out": st.column_config.CheckboxColumn("Ties out"),
                        "ledger_difference": st.column_config.NumberColumn("Movements", format="accounting"),
                        "opening_gap": st.column_config.NumberColumn("Opening vs prior close", format="accounting"),
                        "aging_difference": st.column_config.NumberColumn("Aging vs closing", format="accounting")})
    with st.expander("Roll-forward table"):
        st.dataframe(roll, hide_index=True, width="stretch", key="quality_rollforward", column_config={
            "posting_period": st.column_config.DateColumn("Period", format="YYYY-MM"),
            "is_open_period": st.column_config.CheckboxColumn("Open"),
            "opening_ar": st.column_config.NumberColumn("Opening AR", format="accounting"),
            "invoiced": st.column_config.NumberColumn("Invoiced", format="accounting"),
            "cash_applied": st.column_config.NumberColumn("Cash applied", format="accounting"),
            "credits": st.column_config.NumberColumn("Credits", format="accounting"),
            "write_offs": st.column_config.NumberColumn("Write-offs", format="accounting"),
            "chargebacks": st.column_config.NumberColumn("Chargebacks", format="accounting"),
            "closing_ar": st.column_config.NumberColumn("Closing AR", format="accounting"),
            "ledger_difference": None, "opening_gap": None, "ties_out": None,
            "aging_snapshot_date": st.column_config.DateColumn("Aging snapshot", format="YYYY-MM-DD"),
            "aging_total": st.column_config.NumberColumn("Aging total", format="accounting")})

st.subheader("Month-end cutoff")
st.caption("Payments and invoices posted in a later period than their business date count in the period of posting "
           "(close time zone), so a closed period is never rewritten.")
cutoff = data.load(data.cutoff_summary)
if cutoff.empty:
    st.success("No event was posted after its period closed.")
else:
    st.dataframe(cutoff, hide_index=True, width="stretch", key="quality_cutoff",
                 height=ui.table_height(len(cutoff), 10), column_config={
                     "posting_period": st.column_config.DateColumn("Posted in", format="YYYY-MM"),
                     "business_period": st.column_config.DateColumn("Business period", format="YYYY-MM"),
                     "event_type": "Event", "currency": "Currency", "events": "Events",
                     "amount": st.column_config.NumberColumn("Amount", format="accounting"),
                     "max_minutes_late": "Max minutes after period end"})
    with st.expander("Every late-posted event (latest 500)"):
        late = data.load(data.cutoff_rows, limit=500)
        st.dataframe(late, hide_index=True, width="stretch", key="quality_cutoff_rows", placeholder="")

st.subheader("Cash exceptions")
exceptions = data.load(data.cash_exceptions)
if exceptions.empty:
    st.success("No unapplied or misapplied cash.")
else:
    st.dataframe(exceptions, hide_index=True, width="stretch", key="quality_exceptions", column_config={
        "exception_type": "Type", "reason": "Reason", "currency": "Currency", "items": "Items",
        "amount": st.column_config.NumberColumn("Amount", format="accounting"),
        "oldest_days": st.column_config.NumberColumn("Oldest (days)", format="localized")})

if len(info):
    st.caption(f"Build as of {pd.Timestamp(info['as_of_date'].iloc[0]):%Y-%m-%d}; inputs fingerprint "
               f"{str(info['inputs_sha256'].iloc[0])[:16]}")
