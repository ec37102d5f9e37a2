"""Account 360: one account's invoices, attempts, payments, outreach, cases and promises on one timeline, with
its risk reasons and today's next action."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboards import charts, data
from dashboards.app_pages import common as ui

ui.require_warehouse()
ui.header("Account 360", "Everything about one account")

c1, c2 = st.columns([1, 2])
text = c1.text_input("Find an account", placeholder="account id or part of the name", key="account_search")
matches = data.load(data.account_search, text=text, limit=200)
if matches.empty:
    st.info("No account matches this search.")
    st.stop()
by_id = matches.set_index("account_id")
account = c2.selectbox(
    f"Account ({len(matches):,}{'+' if len(matches) == 200 else ''} matches, largest open balance first)",
    matches["account_id"].tolist(), key="account_pick",
    format_func=lambda a: f"{a} · {by_id.at[a, 'account_name']} · {ui.money(by_id.at[a, 'open_amount'])} open")

profile = data.load(data.account_profile, account_id=account)
if profile.empty:
    st.info("This account is not in the warehouse.")
    st.stop()
p = profile.iloc[0]
st.subheader(ui.plain(p["account_name"]))
st.caption(" · ".join(ui.plain(v) for v in (
    p["account_id"], ui.label(p["segment"]), p["industry"], p["country"], f"collector {p['collector']}",
    f"terms {ui.label(p['payment_terms'])}", f"billing {ui.label(p['billing_method'])}", f"currency {p['currency']}",
    f"credit limit {ui.money(p['credit_limit_amount'])}", f"customer since {pd.Timestamp(p['created_date']):%b %Y}")))

cols = st.columns(5)
cols[0].metric("Open AR", ui.money(p["open_amount"]), border=True)
cols[1].metric("Overdue", ui.money(p["overdue_amount"]), border=True)
cols[2].metric("Open invoices", ui.count(p["open_invoices"]),
               f"oldest {int(p['max_days_past_due'])} days past due" if not pd.isna(p["max_days_past_due"])
               and p["max_days_past_due"] > 0 else None, delta_color="off", delta_arrow="off", border=True)
cols[3].metric("Invoices paid late", ui.pct(p["late_share"], 0), border=True, help="Share of all its invoices.")
last_paid = None if pd.isna(p["last_payment_date"]) else pd.Timestamp(p["last_payment_date"])
day = ui.as_of()
ago = None if last_paid is None or day is None else (pd.Timestamp(day) - last_paid).days
cols[4].metric("Since last payment", "never" if last_paid is None else f"{ago} days" if ago != 1 else "1 day",
               border=True, help=None if last_paid is None else f"Posted {last_paid:%A %d %B %Y}")

todo = data.load(data.account_worklist, account_id=account)
risk = data.load(data.account_risk, account_id=account)
st.markdown("**Today's next action**")
if todo.empty:
    st.caption("Not on today's worklist." if data.current().has("models.worklist") else
               "No worklist in this warehouse yet.")
else:
    t = todo.iloc[0]
    st.text(f"#{int(t['rank'])} on the worklist, for {t['collector']}: {ui.label(t['next_action'])}"
            + (f" (template {t['action_template']})" if t["action_template"] not in (None, "none") else "")
            + (f", due {pd.Timestamp(t['action_due_date']):%d %b %Y}" if not pd.isna(t["action_due_date"]) else "")
            + ("; needs approval" if t["needs_approval"] else "")
            + (f"; escalated: {t['escalation_reason']}" if t["is_escalated"] else ""))
st.markdown("**Risk of its open items**: probability not recovered within 30 days, and why")
if risk.empty:
    st.caption("No risk-scored open items for this account.")
else:
    shown = risk.assign(item_type=risk["item_type"].map(ui.label), why=ui.join_reasons(risk),
                        p_not_recovered_30d=risk["p_not_recovered_30d"] * 100)
    st.dataframe(shown, hide_index=True, width="stretch", key="account_risk", placeholder="",
                 column_order=["invoice_id", "item_type", "p_not_recovered_30d", "exposure", "expected_loss", "why"],
                 column_config={
                     "invoice_id": "Invoice", "item_type": "Item",
                     "p_not_recovered_30d": st.column_config.NumberColumn("Risk", format="%.0f%%"),
                     "exposure": st.column_config.NumberColumn("Open", format="$%,.0f"),
                     "expected_loss": st.column_config.NumberColumn("Expected loss", format="$%,.0f"),
                     "why": st.column_config.TextColumn("Why", width="large")})

events = data.load(data.account_timeline, account_id=account)
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
c1.subheader("Timeline")
span = c2.selectbox("Period", ["Last 6 months", "Last 12 months", "Everything"], key="account_span")
if span != "Everything" and not events.empty:
    months = 6 if span == "Last 6 months" else 12
    start = pd.to_datetime(events["event_at"]).max() - pd.DateOffset(months=months)
    events = events[pd.to_datetime(events["event_at"]) >= start]
st.plotly_chart(charts.account_timeline(events), width="stretch", key="account_timeline")

TYPES = {"All events": None, "Invoices": ["invoice"], "Payment attempts": ["payment attempt"],
         "Payments": ["payment", "refund"], "Outreach": ["outreach"], "Cases and disputes": ["case", "dispute"],
         "Promises": ["promise to pay"], "Credits and write-offs": ["credit memo", "write-off"]}
config = {"event_at": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
          "event_type": "Event", "reference": "Reference", "invoice_id": "Invoice",
          "amount": st.column_config.NumberColumn("Amount", format="accounting"), "currency": "Cur.",
          "status": "Status", "detail": st.column_config.TextColumn("Detail", width="large")}
for tab, (name, kinds) in zip(st.tabs(list(TYPES)), TYPES.items(), strict=True):
    part = events if kinds is None else events[events["event_type"].isin(kinds)]
    with tab:
        if part.empty:
            st.caption(f"No {name.lower()} in this period.")
        else:
            st.dataframe(part, hide_index=True, width="stretch", column_config=config, key=f"account_tab_{name}",
                         height=ui.table_height(len(part), 15), placeholder="")
