"""Declines and retries: decline-family mix, recovery by family and attempt, the next retries, network-rule
compliance, ACH returns against NACHA thresholds, chargebacks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui

ui.require_warehouse()
ui.header("Declines and retries", "Failed card and ACH collections: why they fail, what comes back, and how")

METHODS = {"all": "Card and ACH", "card": "Card", "ach_debit": "ACH debit"}
c1, c2, _ = st.columns([1, 1, 2])
method = c1.selectbox("Payment method", list(METHODS), format_func=METHODS.get, key="declines_method")
share = c2.toggle("Show shares", value=True, key="declines_share", help="Each month as 100 % of its failures.")
method_arg = None if method == "all" else method

mix = data.load(data.decline_mix, method=method_arg)
family = data.load(data.recovery_by_family, method=method_arg)
if not family.empty:
    failed = float(family["failed_amount"].sum())
    mature = family.dropna(subset=["recovery_rate_30d"])
    cols = st.columns(4)
    cols[0].metric("Failed payments (all cohorts)", ui.count(family["failed_count"].sum()), border=True)
    cols[1].metric("Failed amount", ui.money(failed), border=True)
    weighted = (mature["recovery_rate_30d"] * mature["failed_amount"]).sum() / mature["failed_amount"].sum() \
        if len(mature) and mature["failed_amount"].sum() else None
    cols[2].metric("Recovered within 30 days", ui.pct(weighted), border=True,
                   help="Amount-weighted over decline families, cohorts at least 30 days old.")
    by = family[["by_retry", "by_customer_update", "by_other_payment"]].sum()
    cols[3].metric("Recovered by automatic retry", ui.pct(by["by_retry"] / by.sum() if by.sum() else None),
                   border=True, help="Of the failures recovered within 30 days: share recovered by an automatic retry "
                                     "(the rest: the customer updated the card, or paid another way).")

st.plotly_chart(charts.decline_mix(mix, share), width="stretch", key="declines_mix")

st.subheader("What comes back")
left, right = st.columns(2)
left.plotly_chart(charts.recovery_by_family(family), width="stretch", key="declines_recovery_family")
curve = data.load(data.recovery_curve, method=method_arg, max_days=60)
right.plotly_chart(charts.recovery_curves(curve), width="stretch", key="declines_curves")
left, right = st.columns(2)
by_attempt = data.load(data.recovery_by_attempt, method=method_arg)
left.plotly_chart(charts.retry_success(by_attempt), width="stretch", key="declines_attempts")
table = family.assign(decline_family=family["decline_family"].map(ui.label))
right.caption("Recovery by decline family (cohorts at least 30 / 60 days old; counts of recoveries within 30 days)")
right.dataframe(table, hide_index=True, width="stretch", column_config={
    "decline_family": "Decline family", "failed_count": st.column_config.NumberColumn("Failed", format="localized"),
    "failed_amount": st.column_config.NumberColumn("Failed amount", format="dollar"),
    "recovery_rate_30d": st.column_config.NumberColumn("Recovered 30 d", format="percent"),
    "recovery_rate_60d": st.column_config.NumberColumn("Recovered 60 d", format="percent"),
    "recovery_rate_30d_count": st.column_config.NumberColumn("Recovered 30 d (count)", format="percent"),
    "by_retry": "By retry", "by_customer_update": "Customer updated card", "by_other_payment": "Other payment"},
    key="declines_family_table", placeholder="-")

st.subheader("Next retries")
plan = data.load(data.retry_plan)
if method_arg:
    plan = plan[plan["attempt_method"] == method_arg]
if plan.empty:
    st.info("No open failed payment is waiting for a retry.")
else:
    retries = plan[~plan["do_not_retry"].astype(bool)]
    cols = st.columns(3)
    cols[0].metric("Payments to retry", ui.count(len(retries)), border=True)
    cols[1].metric("Not to retry", ui.count(len(plan) - len(retries)), border=True,
                   help="Hard declines, Mastercard 'do not retry' advice, NACHA re-presentment limits: contact the "
                        "customer instead.")
    cols[2].metric("Expected successes", f"{retries['expected_success_probability'].sum():.1f}", border=True,
                   help="Sum of the expected success probability of the recommended retries.")
    st.caption("When to retry each open failed payment: the hour with the best expected success inside the card "
               "networks' and NACHA's rules (retry-timing model), or why it should not be retried.")
    st.dataframe(plan.assign(decline_family=plan["decline_family"].map(ui.label)), hide_index=True, width="stretch",
                 height=ui.table_height(len(plan), 10), key="declines_retry_plan", column_config={
                     "recommended_at": st.column_config.DatetimeColumn("Retry at (UTC)", format="YYYY-MM-DD HH:mm"),
                     "invoice_id": "Invoice", "account_id": "Account", "account_name": "Name",
                     "attempt_method": "Method", "card_brand": "Brand", "decline_family": "Decline family",
                     "expected_success_probability": st.column_config.NumberColumn("Expected success",
                                                                                   format="percent"),
                     "do_not_retry": st.column_config.CheckboxColumn("Do not retry"), "rule_note": "Rule"},
                 placeholder="-")

# ----------------------------------------------------------------------------------------------- compliance
st.subheader("Network-rule compliance of retries")
st.caption("Visa: no retry of category-1 declines, at most 15 reattempts in 30 days; Mastercard merchant advice "
           "codes; no retry of hard declines with the same card; NACHA: at most two re-presentments of R01/R09.")
compliance = data.load(data.retry_compliance)
reattempts = data.load(data.reattempts_monthly, method=method_arg)
if method_arg:
    compliance = compliance[compliance["attempt_method"] == method_arg]
cols = st.columns(3)
cols[0].metric("Reattempts (all months)", ui.count(reattempts["reattempts"].sum()), border=True)
cols[1].metric("Reattempts breaking a rule", ui.count(reattempts["violations"].sum()), border=True)
total = reattempts["reattempts"].sum()
cols[2].metric("Compliant", ui.pct(1 - reattempts["violations"].sum() / total if total else None, 2), border=True)
left, right = st.columns([3, 2])
left.plotly_chart(charts.compliance_violations(compliance, reattempts), width="stretch", key="declines_compliance")
if compliance.empty:
    right.success("No reattempt broke a network rule.")
else:
    rules = compliance.groupby(["rule", "attempt_method", "card_brand"], as_index=False, dropna=False)[
        "violation_count"].sum().sort_values("violation_count", ascending=False)
    rules["rule"] = rules["rule"].map(ui.label)
    right.dataframe(rules, hide_index=True, width="stretch", column_config={
        "rule": "Rule broken", "attempt_method": "Method", "card_brand": "Brand",
        "violation_count": st.column_config.NumberColumn("Violations", format="localized")},
        key="declines_rules")

# ----------------------------------------------------------------------------------------------- NACHA
st.subheader("ACH returns against NACHA thresholds")
nacha = data.load(data.nacha_rates)
if nacha.empty:
    st.info("No ACH debits in this warehouse.")
else:
    last = nacha.iloc[-1]
    cols = st.columns(4)
    cols[0].metric(f"ACH debits, 60 days to {pd.Timestamp(last['window_end']):%d %b}", ui.count(last["debit_count"]),
                   border=True)
    for col, (column, title, threshold) in zip(cols[1:], charts.NACHA_PANELS, strict=True):
        over = last[column] > threshold
        col.metric(title.split(" (")[0] + " return rate", ui.pct(last[column], 2),
                   f"{'over' if over else 'under'} the {threshold:.1%} threshold", delta_color="inverse" if over
                   else "off", delta_arrow="up" if over else "off", border=True)
    st.plotly_chart(charts.nacha_returns(nacha), width="stretch", key="declines_nacha")
    breaches = nacha[nacha[["breaches_overall_threshold", "breaches_unauthorized_threshold",
                            "breaches_administrative_threshold"]].any(axis=1)]
    if len(breaches):
        st.caption(f"{len(breaches)} month end(s) over a threshold:")
        st.dataframe(breaches, hide_index=True, width="stretch", key="declines_nacha_breaches",
                     column_order=["window_end", "debit_count", "returned_count", "unauthorized_count",
                                   "unauthorized_return_rate", "administrative_count", "administrative_return_rate",
                                   "overall_return_rate"],
                     column_config={
                         "window_end": st.column_config.DateColumn("60 days to", format="YYYY-MM-DD"),
                         "debit_count": "ACH debits", "returned_count": "Returned",
                         "unauthorized_count": "Unauthorized", "administrative_count": "Administrative",
                         "overall_return_rate": st.column_config.NumberColumn("Overall rate", format="percent"),
                         "unauthorized_return_rate": st.column_config.NumberColumn("Unauthorized rate",
                                                                                   format="percent"),
                         "administrative_return_rate": st.column_config.NumberColumn("Administrative rate",
                                                                                     format="percent")})

# ----------------------------------------------------------------------------------------------- chargebacks
st.subheader("Chargebacks")
left, right = st.columns([3, 2])
left.plotly_chart(charts.chargebacks(data.load(data.chargebacks_monthly)), width="stretch",
                  key="declines_chargebacks")
reasons = data.load(data.disputes_by_reason)
right.caption("Disputes by network and reason code (all time)")
right.dataframe(reasons, hide_index=True, width="stretch", key="declines_reasons", column_config={
    "network": "Network", "reason_code": "Reason", "category": "Category", "description": "Description",
    "disputes": "Disputes", "amount": st.column_config.NumberColumn("Amount", format="dollar"),
    "won": "Won", "lost": "Lost", "still_open": "Open"})
