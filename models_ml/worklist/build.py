"""Build the collector worklist as of a date: next SOP action per open item, SLA clocks, promises, escalations,
priority from expected loss and urgency, cases to open. Writes models.worklist_items, models.worklist (one row
per account that needs action today) and models.cases_to_open."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from models_ml.io import read_frame, table_exists, write_table
from models_ml.worklist.sla import add_business_hours, business_days_between

DEFAULT_CADENCE = Path(__file__).with_name("cadence.yml")
REPLY_LOOKBACK_DAYS = 5  # SLA clocks on customer replies older than this are stale, not actionable
TWO_DAYS = pd.Timedelta(days=2)  # a touch up to two days before a step's date counts for the step


@dataclass
class Worklist:
    items: pd.DataFrame
    accounts: pd.DataFrame
    cases: pd.DataFrame


def load_cadence(path: Path | None = None) -> dict:
    policy = yaml.safe_load(Path(path or DEFAULT_CADENCE).read_text())
    for kind, segments in policy["policies"].items():
        if "default" not in segments:
            raise ValueError(f"cadence policy '{kind}' has no default steps")
        for steps in segments.values():
            days = [s["day"] for s in steps]
            if days != sorted(days):
                raise ValueError(f"cadence policy '{kind}': steps must be in day order")
    return policy


def open_items(con, as_of: str) -> pd.DataFrame:
    """Today's open items with their risk, decline and account context (one row per item)."""
    has_scores = table_exists(con, "models", "risk_scores")
    risk = ("left join models.risk_scores as r on r.invoice_id = i.invoice_id" if has_scores else
            "left join (select null as invoice_id, null as p_not_recovered_30d, null as expected_loss, "
            "null as reason_1, null as reason_2, null as reason_3) as r on false")
    return read_frame(con, f"""
        select
            i.invoice_id, i.account_id, a.account_name, a.segment, a.collector, a.billing_method,
            i.due_date, i.invoice_date, i.open_amount_reporting as exposure, i.days_past_due,
            e.first_failed_date, e.decline_family, e.resolution_path, e.template_id as decline_template,
            e.is_hard_decline, e.attempt_method, e.episode_status,
            case when e.invoice_id is not null and e.episode_status <> 'recovered' then 'failed_payment'
                 when i.due_date <= date '{as_of}' then 'overdue_invoice' else 'due_soon_invoice' end as item_type,
            r.p_not_recovered_30d, r.expected_loss, r.reason_1, r.reason_2, r.reason_3
        from marts.fct_invoices as i
        inner join marts.dim_accounts as a on a.account_id = i.account_id
        left join marts.fct_failed_payment_episodes as e on e.invoice_id = i.invoice_id
        {risk}
        where i.open_amount > 0 and (i.due_date <= date '{as_of}' + 14 or e.invoice_id is not null)
        order by i.invoice_id
    """)


def cadence_steps(policy: dict) -> pd.DataFrame:
    """The cadence as a table: one row per (item kind, segment, step), in step order."""
    rows = [{"kind": kind, "segment_key": segment, "step_order": order, "step_day": step["day"],
             "action": step["action"], "channel": step.get("channel"), "step_template": step.get("template"),
             "needs_approval": bool(step.get("needs_approval", False))}
            for kind, segments in policy["policies"].items() for segment, steps in segments.items()
            for order, step in enumerate(steps)]
    return pd.DataFrame(rows)


def next_actions(items: pd.DataFrame, touches: pd.DataFrame, policy: dict, today: pd.Timestamp) -> pd.DataFrame:
    """For each item: the first cadence step due and not yet done, or the next future step.

    A step is done when a touch dated on or after (step date - 2 days) used its template, or for calls, its
    channel; so only each invoice's latest touch per template (and per channel for calls) matters.
    """
    is_failure = (items["item_type"] == "failed_payment").to_numpy()
    kind = np.where(is_failure, "failed_payment", "overdue_invoice")
    segment_key = items["segment"].to_numpy(dtype=object).copy()
    for k, segments in policy["policies"].items():
        listed = np.isin(segment_key, [s for s in segments if s != "default"])
        segment_key[(kind == k) & ~listed] = "default"
    start = pd.to_datetime(pd.Series(np.where(is_failure, items["first_failed_date"], items["due_date"]),
                                     index=items.index))
    frame = pd.DataFrame({"item": np.arange(len(items)), "invoice_id": items["invoice_id"].to_numpy(),
                          "kind": kind, "segment_key": segment_key, "start": start.to_numpy(),
                          "days": (today - start).dt.days.to_numpy(),
                          "decline_template": items["decline_template"].to_numpy()})
    steps = frame.merge(cadence_steps(policy), on=["kind", "segment_key"]).sort_values(["item", "step_order"])
    steps["template"] = steps["step_template"].where(steps["step_template"] != "from_decline",
                                                     steps["decline_template"])
    steps["step_date"] = steps["start"] + pd.to_timedelta(steps["step_day"], unit="D")
    touches = touches.assign(touched=pd.to_datetime(touches["touched_local_date"]))
    steps["done"] = _latest_touch(steps, touches, "template_id", "template") >= steps["step_date"] - TWO_DAYS
    phone = steps["channel"] == "phone"
    steps.loc[phone, "done"] = (_latest_touch(steps[phone], touches, "channel", "channel")
                                >= steps.loc[phone, "step_date"] - TWO_DAYS)
    steps["due"] = steps["step_day"] <= steps["days"]
    chosen = steps[(steps["due"] & ~steps["done"]) | ~steps["due"]].drop_duplicates("item")
    out = pd.DataFrame({"next_action": "monitor", "action_template": "none", "action_due_date": pd.NaT,
                        "is_action_due": False, "needs_approval": False}, index=np.arange(len(items)))
    out = out.astype({"action_due_date": "datetime64[s]"})
    at = chosen["item"].to_numpy()
    out.loc[at, "next_action"] = chosen["action"].to_numpy()
    out.loc[at, "action_template"] = chosen["template"].fillna("none").replace("", "none").to_numpy()
    out.loc[at, "action_due_date"] = chosen["step_date"].to_numpy()
    out.loc[at, "is_action_due"] = chosen["due"].to_numpy()
    out.loc[at, "needs_approval"] = chosen["needs_approval"].to_numpy()
    # The decline's own resolution overrides the calendar when it calls for something else first.
    escalation = frame.assign(template="tpl_account_escalation")
    escalated = _latest_touch(escalation, touches, "template_id", "template") >= escalation["start"] - TWO_DAYS
    override = (is_failure & (items["resolution_path"] == "stop_and_escalate").to_numpy()
                & (frame["days"] >= 0).to_numpy() & ~escalated.to_numpy())
    out.loc[override, ["next_action", "action_template", "is_action_due", "needs_approval"]] = [
        "escalate_to_lead", "tpl_account_escalation", True, False]
    out.loc[override, "action_due_date"] = frame.loc[override, "start"].to_numpy()
    out["action_due_date"] = out["action_due_date"].dt.date.astype(object).where(out["action_due_date"].notna(),
                                                                                   pd.NaT)
    out["days_in_state"] = frame["days"].to_numpy()
    out.index = items.index
    return out


def _latest_touch(steps: pd.DataFrame, touches: pd.DataFrame, touch_key: str, step_key: str) -> pd.Series:
    """Per step row: the date of the invoice's latest touch whose `touch_key` equals the step's `step_key`."""
    latest = touches.groupby(["invoice_id", touch_key])["touched"].max().rename("latest")
    keys = pd.MultiIndex.from_arrays([steps["invoice_id"], steps[step_key]])
    return pd.Series(latest.reindex(keys).to_numpy(), index=steps.index)


def sla_clocks(con, today: pd.Timestamp, policy: dict) -> pd.DataFrame:
    """Per account: unanswered customer replies (deadline, breached) and open collections cases past their SLA."""
    sla = policy["sla"]
    open_hour, close_hour = sla["business_hours"]["start"], sla["business_hours"]["end"]
    replies = read_frame(con, f"""
        select o.account_id, o.touched_local_at as replied_at,
               (select min(later.touched_local_at) from staging.stg_raw__outreach as later
                where later.account_id = o.account_id and later.direction = 'outbound'
                  and later.collector is not null and later.collector <> ''
                  and later.touched_local_at > o.touched_local_at) as answered_at
        from staging.stg_raw__outreach as o
        where (o.outcome = 'replied' or (o.direction = 'inbound' and o.channel in ('email', 'sms')))
          and o.touched_local_date >= date '{today.date()}' - {REPLY_LOOKBACK_DAYS}
    """)
    rows = []
    for reply in replies.itertuples(index=False):
        deadline = add_business_hours(pd.Timestamp(reply.replied_at), sla["answer_customer_reply_hours"],
                                      open_hour, close_hour)
        answered = pd.notna(reply.answered_at) and pd.Timestamp(reply.answered_at) <= deadline
        if answered:
            continue
        rows.append({"account_id": reply.account_id, "reply_deadline": deadline,
                     "is_reply_sla_breached": deadline < today + pd.Timedelta(hours=open_hour)})
    frame = pd.DataFrame(rows, columns=["account_id", "reply_deadline", "is_reply_sla_breached"])
    frame = frame.sort_values("reply_deadline").groupby("account_id", as_index=False).agg(
        reply_deadline=("reply_deadline", "min"), is_reply_sla_breached=("is_reply_sla_breached", "max"))
    cases = read_frame(con, """
        select account_id, case_id, case_type, opened_local_date from staging.stg_raw__cases where status <> 'closed'
    """)
    cases["business_days_open"] = [business_days_between(d, today.date()) for d in cases["opened_local_date"]]
    late_cases = cases[cases["business_days_open"] > sla["open_case_days"]].groupby("account_id").size()
    frame = frame.merge(late_cases.rename("cases_past_sla").reset_index(), on="account_id", how="outer")
    frame["is_reply_sla_breached"] = frame["is_reply_sla_breached"].astype("boolean").fillna(False).astype(bool)
    frame["cases_past_sla"] = frame["cases_past_sla"].fillna(0).astype(int)
    return frame


def promise_state(con, today: pd.Timestamp) -> pd.DataFrame:
    """Per account: a promise falling due (today or within its grace) and promises broken in the last 7 days."""
    return read_frame(con, f"""
        select
            account_id,
            bool_or(promise_status = 'open' and promised_date <= date '{today.date()}') as is_promise_due,
            bool_or(promise_status = 'broken' and grace_end_date >= date '{today.date()}' - 7) as has_broken_promise,
            min(case when promise_status = 'open' then promised_date end) as next_promised_date,
            sum(case when promise_status = 'open' then promised_amount else 0 end) as open_promised_amount
        from marts.fct_promises_to_pay
        group by account_id
    """)


def plan_state(con, today: pd.Timestamp) -> pd.DataFrame:
    """Per account with an active payment plan: whether the instalments due so far were paid (cash received since
    the plan was agreed covers them), judged from cash as of today."""
    return read_frame(con, f"""
        with plans as (
            select plan_id, account_id, agreed_local_date, plan_amount, installment_count, first_due_date,
                   frequency
            from staging.stg_raw__payment_plans
        ),
        due as (
            select p.*,
                   least(p.installment_count, greatest(0, 1 + cast(floor(date_diff('day', p.first_due_date,
                       date '{today.date()}' - 3) / case p.frequency when 'weekly' then 7 when 'biweekly' then 14
                       else 30.4 end) as bigint))) as installments_due
            from plans as p
        ),
        paid as (
            select d.plan_id, coalesce(sum(pay.payment_amount), 0) as paid_since_agreed
            from due as d
            left join staging.stg_raw__payments as pay
                on pay.account_id = d.account_id and pay.posted_local_date >= d.agreed_local_date
                and pay.posted_local_date < date '{today.date()}'
            group by d.plan_id
        )
        select d.account_id,
               bool_or(p.paid_since_agreed < d.plan_amount - 0.01) as has_active_plan,
               bool_or(p.paid_since_agreed + 0.01 < d.plan_amount * d.installments_due / d.installment_count)
                   as has_missed_installment
        from due as d inner join paid as p using (plan_id)
        group by d.account_id
    """)


def engagement(con, today: pd.Timestamp) -> pd.DataFrame:
    return read_frame(con, f"""
        select account_id,
               count(*) filter (where direction = 'outbound') as touches_30d,
               count(*) filter (where is_response) as responses_30d
        from staging.stg_raw__outreach
        where touched_local_date >= date '{today.date()}' - 30
        group by account_id
    """)


def cases_to_open(con, items: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Disputes without a case, hard declines that need a payment-method update, and escalations."""
    disputes = read_frame(con, """
        select d.dispute_id, d.account_id, d.reason_code, d.network, d.dispute_amount, d.currency
        from staging.stg_raw__disputes as d
        where d.status = 'open'
          and not exists (select 1 from staging.stg_raw__cases as c
                          where c.account_id = d.account_id and c.case_type = 'dispute'
                            and c.opened_local_date >= d.opened_local_date - 1)
    """)
    rows = [{"account_id": d.account_id, "invoice_id": None, "case_type": "dispute",
             "subject": f"Chargeback {d.network} {d.reason_code}: respond with evidence",
             "description": f"Dispute {d.dispute_id} for {d.dispute_amount:,.2f} {d.currency} is open with no case.",
             "priority": "High"} for d in disputes.itertuples(index=False)]
    hard = items[(items["item_type"] == "failed_payment") & items["is_hard_decline"].fillna(False).astype(bool)
                 & (items["resolution_path"] == "update_payment_method")]
    rows += [{"account_id": r.account_id, "invoice_id": r.invoice_id, "case_type": "payment_method_update",
              "subject": "Payment method must be updated",
              "description": f"Payment of {r.exposure:,.2f} declined ({str(r.decline_family).replace('_', ' ')}); "
                             "send the self-serve update link and follow up.",
              "priority": "Medium"} for r in hard.itertuples(index=False)]
    escalate = accounts[accounts["is_escalated"]]
    rows += [{"account_id": r.account_id, "invoice_id": None, "case_type": "other",
              "subject": "Collections escalation",
              "description": "; ".join(x for x in (r.escalation_reason, r.reason_1) if isinstance(x, str) and x),
              "priority": "High"} for r in escalate.itertuples(index=False)]
    return pd.DataFrame(rows, columns=["account_id", "invoice_id", "case_type", "subject", "description",
                                       "priority"])


def build_worklist(con, as_of: str, cadence: Path | None = None, balance: bool = False) -> Worklist:
    """The worklist for the working day after `as_of`; written to the warehouse (schema models)."""
    policy = load_cadence(cadence)
    today = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    items = open_items(con, as_of)
    touches = read_frame(con, """
        select invoice_id, account_id, channel, template_id, touched_local_date
        from staging.stg_raw__outreach where invoice_id is not null
    """)
    items = items.join(next_actions(items, touches, policy, today))
    for column in ("exposure", "p_not_recovered_30d", "expected_loss"):
        items[column] = pd.to_numeric(items[column], errors="coerce").astype("float64")
    items["expected_loss"] = items["expected_loss"].fillna(items["exposure"] * items["p_not_recovered_30d"])
    # Without a risk model (a young book) rank by exposure alone.
    items["expected_loss"] = items["expected_loss"].fillna(items["exposure"])
    weights = policy["priority"]
    esc = policy["escalation"]
    items["is_high_risk"] = (items["p_not_recovered_30d"].fillna(0) >= esc["high_risk_probability"]) & (
        items["exposure"] >= esc["high_risk_exposure"])
    items["is_suspension_due"] = items["next_action"].isin(["send_suspension_warning", "suspend_service"]) & (
        pd.to_datetime(items["action_due_date"]) <= today + pd.Timedelta(days=7))
    accounts = account_rows(con, items, today, policy)
    items = items.merge(accounts[["account_id", "urgency"]], on="account_id", how="left")
    items["priority_score"] = (items["expected_loss"] * (1 + items["urgency"]
                                                         + weights["high_risk"] * items["is_high_risk"]
                                                         + weights["suspension_due"] * items["is_suspension_due"])
                                ).round(2)  # money-like: cents, so exports carry no float noise
    items = items.sort_values(["priority_score", "invoice_id"], ascending=[False, True]).reset_index(drop=True)
    items["item_rank"] = np.arange(1, len(items) + 1)
    item_priority = items.groupby("account_id")["priority_score"].sum()
    accounts["priority_score"] = accounts["account_id"].map(item_priority).fillna(0).round(2)
    accounts = accounts[accounts["needs_action_today"]].sort_values(
        ["priority_score", "account_id"], ascending=[False, True]).reset_index(drop=True)
    accounts["rank"] = np.arange(1, len(accounts) + 1)
    accounts["assigned_collector"] = balance_collectors(accounts, policy) if balance else accounts["collector"]
    cases = cases_to_open(con, items, accounts)
    items["as_of_date"] = pd.Timestamp(as_of).date()
    accounts["as_of_date"] = pd.Timestamp(as_of).date()
    cases["as_of_date"] = pd.Timestamp(as_of).date()
    write_table(con, "models", "worklist_items", items)
    write_table(con, "models", "worklist", accounts)
    write_table(con, "models", "cases_to_open", cases)
    return Worklist(items, accounts, cases)


def account_rows(con, items: pd.DataFrame, today: pd.Timestamp, policy: dict) -> pd.DataFrame:
    """One row per account with open items: its top action, triggers and urgency."""
    weights, esc = policy["priority"], policy["escalation"]
    top = items.sort_values(["is_action_due", "expected_loss"], ascending=[False, False]).groupby(
        "account_id", as_index=False).first()
    grouped = items.sort_values("invoice_id").groupby("account_id").agg(
        open_items=("invoice_id", ";".join), item_count=("invoice_id", "size"),  # ids in order within a group
        exposure=("exposure", "sum"), expected_loss=("expected_loss", "sum"),
        max_probability=("p_not_recovered_30d", "max"), actions_due=("is_action_due", "sum"),
        any_high_risk=("is_high_risk", "max"), any_suspension_due=("is_suspension_due", "max"),
        oldest_days_past_due=("days_past_due", "max")).reset_index()
    accounts = top[["account_id", "account_name", "segment", "collector", "next_action", "action_template",
                    "action_due_date", "needs_approval", "reason_1", "reason_2", "reason_3"]].merge(
        grouped, on="account_id")
    accounts = accounts.merge(sla_clocks(con, today, policy), on="account_id", how="left")
    accounts = accounts.merge(promise_state(con, today), on="account_id", how="left")
    accounts = accounts.merge(engagement(con, today), on="account_id", how="left")
    accounts = accounts.merge(plan_state(con, today), on="account_id", how="left")
    for column in ("is_reply_sla_breached", "is_promise_due", "has_broken_promise", "has_active_plan",
                   "has_missed_installment"):
        accounts[column] = accounts[column].astype("boolean").fillna(False).astype(bool)
    for column in ("cases_past_sla", "touches_30d", "responses_30d"):
        accounts[column] = accounts[column].fillna(0).astype(int)
    accounts["is_unresponsive"] = (accounts["touches_30d"] >= esc["unresponsive_touches_30d"]) & (
        accounts["responses_30d"] == 0)
    accounts["is_escalated"] = accounts["any_high_risk"].astype(bool) | (
        accounts["is_unresponsive"] & (accounts["expected_loss"] >= esc["high_risk_exposure"] / 2))
    accounts["escalation_reason"] = np.select(
        [accounts["any_high_risk"].astype(bool), accounts["is_escalated"]],
        ["high risk of non-recovery on a large balance", "unresponsive: no reply to recent touches"], "")
    breached = accounts["is_reply_sla_breached"] | (accounts["cases_past_sla"] > 0)
    # A plan being kept calms the account down; a missed instalment is a broken promise.
    on_track_plan = accounts["has_active_plan"] & ~accounts["has_missed_installment"]
    accounts["urgency"] = (weights["sla_breach"] * breached
                           + weights["broken_promise"] * (accounts["has_broken_promise"]
                                                          | accounts["has_missed_installment"])
                           + weights["payment_plan_on_track"] * on_track_plan
                           + weights["promise_due"] * accounts["is_promise_due"]
                           + weights["unresponsive"] * accounts["is_unresponsive"])
    # Triggers override the calendar step where they ask for something more urgent.
    accounts.loc[on_track_plan, ["next_action", "action_template"]] = ["monitor_payment_plan", "none"]
    for flag, action, template in (("has_missed_installment", "call_customer_missed_installment",
                                    "tpl_collections_call"),
                                   ("has_broken_promise", "call_customer_broken_promise", "tpl_collections_call"),
                                   ("is_promise_due", "check_promised_payment", "none"),
                                   ("is_reply_sla_breached", "answer_customer_reply", "none")):
        accounts.loc[accounts[flag], ["next_action", "action_template"]] = [action, template]
    accounts["needs_action_today"] = (((accounts["actions_due"] > 0) & ~on_track_plan)
                                      | accounts["has_missed_installment"] | accounts["is_reply_sla_breached"]
                                      | accounts["is_promise_due"] | accounts["has_broken_promise"]
                                      | accounts["is_escalated"] | (accounts["cases_past_sla"] > 0))
    accounts["exposure"] = accounts["exposure"].round(2)
    accounts["expected_loss"] = accounts["expected_loss"].round(2)
    return accounts


def balance_collectors(accounts: pd.DataFrame, policy: dict) -> pd.Series:
    """Keep each account with its owner up to capacity; overflow goes to the least-loaded collector."""
    capacity = policy["capacity"]["items_per_collector"]
    load = dict.fromkeys(accounts["collector"].unique(), 0)
    assigned = []
    for owner in accounts["collector"]:  # accounts arrive in priority order
        chosen = owner if load[owner] < capacity else min(load, key=lambda c: (load[c], c))
        load[chosen] += 1
        assigned.append(chosen)
    return pd.Series(assigned, index=accounts.index)
