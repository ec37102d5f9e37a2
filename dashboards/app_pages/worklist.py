"""Worklist: today's risk-ranked accounts (models.worklist) or, until it exists, the risk-ranked open items
(models.risk_scores), with filters, visible reasons and CSV / Excel downloads."""

from __future__ import annotations

import streamlit as st

from dashboards import data, exports
from dashboards.app_pages import common as ui

wh = ui.require_warehouse()
ui.header("Worklist", "Who to work today, why, and what to do next")

source = data.worklist_source(wh)
if source is None:
    st.info("No worklist and no risk scores in this warehouse yet: the risk model needs a book with enough "
            "history (it is skipped on young books). Rebuild with more months: dunning build --raw DIR "
            "--warehouse FILE")
    st.stop()
if source == "risk_scores":
    st.caption("The worklist is not in this warehouse yet: showing the risk-ranked open items from "
               "models.risk_scores, largest expected loss first.")

options = data.load(data.worklist_options)
action_dimension = "action" if source == "worklist" else "item_type"
c1, c2, c3, c4 = st.columns([1, 1, 1.4, 1])
collector = c1.selectbox("Collector", ["All collectors", *data.values_of(options, "collector")],
                         key="worklist_collector")
segments = c2.multiselect("Segment", data.values_of(options, "segment"), format_func=ui.label,
                          placeholder="All segments", key="worklist_segments")
actions = c3.multiselect("Next action" if source == "worklist" else "Item type",
                         data.values_of(options, action_dimension), format_func=ui.label,
                         placeholder="All actions" if source == "worklist" else "All item types",
                         key="worklist_actions")
min_probability = c4.slider("Min. probability not recovered in 30 days", 0.0, 1.0, 0.0, 0.05,
                            key="worklist_min_probability", format="%.2f")
escalated_only = False
if source == "worklist":
    escalated_only = st.toggle("Escalated accounts only", key="worklist_escalated")

frame = data.load(data.worklist, collector=None if collector == "All collectors" else collector,
                  segments=segments, actions=actions, min_probability=min_probability,
                  escalated_only=escalated_only)

cols = st.columns(4)
unit = "accounts" if source == "worklist" else "open items"
cols[0].metric(f"{unit.capitalize()} to work", ui.count(len(frame)), border=True)
cols[1].metric("Open amount", ui.money(frame["exposure"].sum() if len(frame) else 0), border=True)
cols[2].metric("Expected loss", ui.money(frame["expected_loss"].sum() if len(frame) else 0), border=True,
               help="Sum of probability not recovered in 30 days x open amount.")
if source == "worklist":
    cols[3].metric("Escalated", ui.count(frame["is_escalated"].sum() if len(frame) else 0), border=True)
else:
    cols[3].metric("Accounts", ui.count(frame["account_id"].nunique() if len(frame) else 0), border=True)

if frame.empty:
    st.info("Nothing to work with these filters.")
    st.stop()

shown = frame.copy()
shown["why"] = ui.worklist_why(shown)
shown["max_probability"] = shown["max_probability"] * 100
for column in ("next_action", "item_type", "segment"):
    if column in shown:
        shown[column] = shown[column].map(ui.label)
COLUMNS = {
    "rank": st.column_config.NumberColumn("#", format="%d", width="small"),
    "collector": "Collector", "account_id": "Account", "account_name": "Name", "segment": "Segment",
    "next_action": "Next action", "action_template": "Template",
    "action_due_date": st.column_config.DateColumn("Action due", format="YYYY-MM-DD"),
    "needs_approval": st.column_config.CheckboxColumn("Approval"),
    "item_count": st.column_config.NumberColumn("Items", format="%d"), "open_items": "Invoices",
    "item_type": "Item type", "invoice_id": "Invoice",
    "exposure": st.column_config.NumberColumn("Open", format="$%,.0f"),
    "expected_loss": st.column_config.NumberColumn("Exp. loss", format="$%,.0f"),
    "max_probability": st.column_config.NumberColumn("Risk", format="%.0f%%", help="Probability the open amount is "
                                                     "not recovered within 30 days (highest of the account's items)"),
    "why": st.column_config.TextColumn("Why (risk reasons)", width="medium"),
    "reason_1": st.column_config.TextColumn("Reason 1", width="medium"),
    "reason_2": st.column_config.TextColumn("Reason 2", width="medium"),
    "reason_3": st.column_config.TextColumn("Reason 3", width="medium"),
    "is_reply_sla_breached": st.column_config.CheckboxColumn("Reply SLA breached"),
    "is_promise_due": st.column_config.CheckboxColumn("Promise due"),
    "has_broken_promise": st.column_config.CheckboxColumn("Broken promise"),
    "is_escalated": st.column_config.CheckboxColumn("Escalated"), "escalation_reason": "Escalation reason",
    "oldest_days_past_due": st.column_config.NumberColumn("Oldest (days past due)", format="%d"),
}
ORDER = ["rank", "collector", "account_name", "next_action", "item_type", "why", "exposure", "expected_loss",
         "max_probability", "action_due_date", "is_escalated", "escalation_reason", "is_reply_sla_breached",
         "is_promise_due", "has_broken_promise", "needs_approval", "segment", "account_id", "invoice_id", "item_count",
         "open_items", "action_template", "oldest_days_past_due"]
st.dataframe(shown, hide_index=True, width="stretch", height=ui.table_height(len(shown), 15), column_config=COLUMNS,
             column_order=[c for c in ORDER if c in shown.columns], key="worklist_table", placeholder="")

day = ui.as_of()
stamp = f"{day:%Y-%m-%d}" if day else "latest"
name = f"worklist-{stamp}" if source == "worklist" else f"risk-ranked-items-{stamp}"
left, right, _ = st.columns([1, 1, 4])
left.download_button("Download CSV", data=lambda: exports.to_csv_bytes(frame), file_name=f"{name}.csv",
                     mime="text/csv", key="worklist_csv", on_click="ignore")
right.download_button("Download Excel", data=lambda: exports.to_excel_bytes(frame), file_name=f"{name}.xlsx",
                      mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                      key="worklist_xlsx", on_click="ignore")
st.caption("Downloads hold the filtered rows; any cell a spreadsheet would run as a formula is prefixed with '.")

# ----------------------------------------------------------------------------------------------- cases
cases = data.load(data.cases_to_open)
if len(cases):
    st.subheader(f"Cases to open in the CRM ({len(cases)})")
    st.caption("Accounts whose next action needs a case (escalation, card update, dispute...). `dunning cases --out "
               "FILE.csv` writes them for Salesforce Data Loader.")
    st.dataframe(cases.assign(case_type=cases["case_type"].map(ui.label)), hide_index=True, width="stretch",
                 height=ui.table_height(len(cases), 10), key="worklist_cases", placeholder="", column_config={
                     "priority": "Priority", "case_type": "Case type", "account_id": "Account",
                     "account_name": "Name", "invoice_id": "Invoice", "subject": "Subject",
                     "description": st.column_config.TextColumn("Description", width="large")})
    st.download_button("Download cases (CSV)", data=lambda: exports.to_csv_bytes(cases),
                       file_name=f"cases-{stamp}.csv", mime="text/csv", key="worklist_cases_csv", on_click="ignore")
