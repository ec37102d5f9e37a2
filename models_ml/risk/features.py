"""Point-in-time features of open receivable items at snapshot dates, from the warehouse.

An item is an invoice with an open balance at the snapshot that is overdue, due within 14 days, or in a failed
card/ACH collection. Every feature uses only events known strictly before the snapshot day (a failure is known
when the attempt was declined, an ACH failure when its return arrived); the label, when observable, is whether
cash or credits cleared the balance within 30 days after the snapshot (write-offs do not count as recovery).
One row per item per snapshot date.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from models_ml.io import read_frame, register_dates

HORIZON_DAYS = 30
DUE_SOON_DAYS = 14

CATEGORICAL = ["item_type", "segment", "billing_method", "decline_family", "attempt_method", "currency_group"]
NUMERIC = [
    "log_exposure", "days_past_due", "days_since_invoice", "terms_days", "tenure_days", "days_since_first_failure",
    "failed_attempts_on_item", "is_hard_decline", "card_expired_days", "days_to_card_expiry",
    "failures_90d", "failed_episodes_365d", "unrecovered_episodes_365d", "late_paid_share_365d",
    "avg_days_late_365d", "write_offs_365d", "disputes_365d", "broken_promises_180d", "kept_promises_180d",
    "has_open_promise", "touches_30d", "responses_30d", "bounces_30d", "days_since_last_response",
    "account_open_items", "account_overdue_share", "account_max_days_past_due", "snapshot_day_of_month",
    "days_to_month_end",
]

FEATURE_SQL = """
with snapshots as (select snapshot_date from _snapshots),

invoices as (
    select invoice_id, account_id, invoice_date, due_date, currency, book_rate, invoice_amount,
           posted_at, billing_method, segment
    from marts.fct_invoices where not is_void
),

invoice_spans as (
    -- An invoice whose last event came before a snapshot and left nothing open cannot be open then: only the
    -- others are summed at each snapshot (the rest of the book would be summed to nothing, snapshot after snapshot).
    select
        invoice_id,
        min(event_date) as first_event_date,
        case when sum(amount) > 0.005 then date '9999-12-31' else max(event_date) end as may_be_open_until
    from intermediate.int_ar_events
    group by invoice_id
),

candidates as (
    select s.snapshot_date, v.invoice_id
    from snapshots as s
    inner join invoice_spans as v
        on v.first_event_date < s.snapshot_date and v.may_be_open_until >= s.snapshot_date
),

balances as (
    -- Open balance at the end of the day before the snapshot, and the label window's clearing.
    select
        c.snapshot_date,
        e.invoice_id,
        sum(case when e.event_date < c.snapshot_date then e.amount else 0 end) as open_amount,
        sum(case when e.event_date < c.snapshot_date then e.amount_reporting else 0 end) as open_reporting,
        sum(case when e.event_date < c.snapshot_date + {horizon} and e.event_type <> 'write_off'
                 then e.amount else 0 end) as uncleared_after_horizon
    from candidates as c
    inner join intermediate.int_ar_events as e
        on e.invoice_id = c.invoice_id and e.event_date < c.snapshot_date + {horizon}
    group by c.snapshot_date, e.invoice_id
),

attempt_facts as (
    select
        a.attempt_id, a.attempted_at, a.invoice_id, a.account_id, a.attempt_method, a.decline_family,
        a.is_hard_decline, a.is_failed, a.is_customer_initiated, a.card_expires_on,
        -- When the failure became known: the decline itself, or the ACH return.
        case when a.attempt_method = 'ach_debit' then coalesce(a.return_date, a.attempted_local_date)
             else a.attempted_local_date end as known_date,
        a.attempted_local_date
    from intermediate.int_payment_attempts_classified as a
),

failures as (
    select
        s.snapshot_date, f.invoice_id,
        min(f.known_date) as first_failure_date,
        count(*) as failed_attempts,
        -- Ties on the day go to the later attempt: without a total order the pick would vary from run to run.
        arg_max(f.decline_family, (f.known_date, f.attempted_at, f.attempt_id)) as last_family,
        arg_max(f.attempt_method, (f.known_date, f.attempted_at, f.attempt_id)) as last_method,
        max(case when f.is_hard_decline then 1 else 0 end) as any_hard
    from snapshots as s
    inner join attempt_facts as f
        on f.known_date < s.snapshot_date and f.is_failed and not f.is_customer_initiated
        and f.invoice_id is not null
    group by s.snapshot_date, f.invoice_id
),

items as (
    select
        b.snapshot_date, i.invoice_id, i.account_id, i.currency, i.segment, i.billing_method,
        i.invoice_date, i.due_date, i.invoice_amount,
        b.open_amount, b.open_reporting, b.uncleared_after_horizon,
        f.first_failure_date, f.failed_attempts, f.last_family, f.last_method, f.any_hard,
        case when f.invoice_id is not null then 'failed_payment'
             when i.due_date < b.snapshot_date then 'overdue_invoice'
             else 'due_soon_invoice' end as item_type
    from balances as b
    inner join invoices as i on i.invoice_id = b.invoice_id
    left join failures as f on f.invoice_id = b.invoice_id and f.snapshot_date = b.snapshot_date
    where b.open_amount > 0.005
        and cast(i.posted_at as date) < b.snapshot_date
        and (i.due_date <= b.snapshot_date + {due_soon} or f.invoice_id is not null)
),

item_accounts as (
    -- Account-level history is needed only for accounts with an item at the snapshot.
    select distinct snapshot_date, account_id from items
),

cards as (
    select
        s.snapshot_date, f.account_id,
        arg_max(f.card_expires_on, (f.attempted_local_date, f.attempted_at, f.attempt_id)) as card_expires_on
    from item_accounts as s
    inner join attempt_facts as f
        on f.account_id = s.account_id and f.attempted_local_date < s.snapshot_date and f.card_expires_on is not null
    group by s.snapshot_date, f.account_id
),

account_episodes as (
    select
        s.snapshot_date, e.account_id,
        count(*) filter (where e.first_failed_date >= s.snapshot_date - 365) as failed_episodes_365d,
        count(*) filter (where e.first_failed_date >= s.snapshot_date - 365
                         and e.first_failed_date < s.snapshot_date - {horizon}
                         and not (e.recovered_at is not null
                                  and cast(e.recovered_at as date) < e.first_failed_date + {horizon}))
            as unrecovered_episodes_365d
    from snapshots as s
    inner join marts.fct_failed_payment_episodes as e on e.first_failed_date < s.snapshot_date
    group by s.snapshot_date, e.account_id
),

account_failures as (
    select s.snapshot_date, f.account_id, count(*) as failures_90d
    from snapshots as s
    inner join attempt_facts as f
        on f.known_date < s.snapshot_date and f.known_date >= s.snapshot_date - 90 and f.is_failed
        and not f.is_customer_initiated
    group by s.snapshot_date, f.account_id
),

paid_history as (
    -- Invoices due in the past year that were settled (cash or credit, no write-off) before the snapshot.
    select
        h.snapshot_date, h.account_id,
        avg(case when h.settle_date > h.due_date then 1.0 else 0.0 end) as late_paid_share_365d,
        avg(greatest(date_diff('day', h.due_date, h.settle_date), 0)) as avg_days_late_365d
    from (
        select
            s.snapshot_date, i.account_id, i.invoice_id, i.due_date,
            max(e.event_date) as settle_date,
            sum(e.amount) as balance,
            max(case when e.event_type = 'write_off' then 1 else 0 end) as has_write_off
        from item_accounts as s
        inner join invoices as i on i.account_id = s.account_id and i.due_date >= s.snapshot_date - 365
        inner join intermediate.int_ar_events as e
            on e.invoice_id = i.invoice_id and e.event_date < s.snapshot_date and e.event_date >= s.snapshot_date - 500
        group by s.snapshot_date, i.account_id, i.invoice_id, i.due_date
    ) as h
    where h.balance <= 0.005 and h.has_write_off = 0
    group by h.snapshot_date, h.account_id
),

write_offs as (
    select s.snapshot_date, w.account_id, count(*) as write_offs_365d
    from snapshots as s
    inner join staging.stg_raw__write_offs as w
        on w.posted_local_date < s.snapshot_date and w.posted_local_date >= s.snapshot_date - 365
    group by s.snapshot_date, w.account_id
),

disputes as (
    select s.snapshot_date, d.account_id, count(*) as disputes_365d
    from snapshots as s
    inner join staging.stg_raw__disputes as d
        on d.opened_local_date < s.snapshot_date and d.opened_local_date >= s.snapshot_date - 365
    group by s.snapshot_date, d.account_id
),

promises as (
    -- A promise's fate is known once its grace period has ended before the snapshot.
    select
        s.snapshot_date, p.account_id,
        count(*) filter (where p.grace_end_date < s.snapshot_date and p.grace_end_date >= s.snapshot_date - 180
                         and p.paid_by_due_amount < p.promised_amount - 0.01) as broken_promises_180d,
        count(*) filter (where p.grace_end_date < s.snapshot_date and p.grace_end_date >= s.snapshot_date - 180
                         and p.paid_by_due_amount >= p.promised_amount - 0.01) as kept_promises_180d,
        max(case when p.grace_end_date >= s.snapshot_date then 1 else 0 end) as has_open_promise
    from snapshots as s
    inner join marts.fct_promises_to_pay as p on p.promised_local_date < s.snapshot_date
    group by s.snapshot_date, p.account_id
),

touches as (
    select
        s.snapshot_date, o.account_id,
        count(*) filter (where o.touched_local_date >= s.snapshot_date - 30) as touches_30d,
        count(*) filter (where o.touched_local_date >= s.snapshot_date - 30 and o.is_response) as responses_30d,
        count(*) filter (where o.touched_local_date >= s.snapshot_date - 30 and o.outcome = 'bounced')
            as bounces_30d,
        max(case when o.is_response then o.touched_local_date end) as last_response_date
    from snapshots as s
    inner join staging.stg_raw__outreach as o
        on o.touched_local_date < s.snapshot_date and o.touched_local_date >= s.snapshot_date - 365
    group by s.snapshot_date, o.account_id
),

account_ar as (
    select
        snapshot_date, account_id,
        count(*) as account_open_items,
        sum(case when due_date < snapshot_date then open_reporting else 0 end) / nullif(sum(open_reporting), 0)
            as account_overdue_share,
        max(greatest(date_diff('day', due_date, snapshot_date), 0)) as account_max_days_past_due
    from items
    group by snapshot_date, account_id
)

select
    items.snapshot_date,
    items.invoice_id,
    items.account_id,
    items.item_type,
    cast(items.open_reporting as double) as exposure,
    ln(1 + greatest(cast(items.open_reporting as double), 0)) as log_exposure,
    a.segment,
    a.billing_method,
    coalesce(items.last_family, 'none') as decline_family,
    coalesce(items.last_method, 'none') as attempt_method,
    case when items.currency = 'USD' then 'USD' else 'other' end as currency_group,
    date_diff('day', items.due_date, items.snapshot_date) as days_past_due,
    date_diff('day', items.invoice_date, items.snapshot_date) as days_since_invoice,
    a.terms_days,
    date_diff('day', a.created_date, items.snapshot_date) as tenure_days,
    date_diff('day', items.first_failure_date, items.snapshot_date) as days_since_first_failure,
    coalesce(items.failed_attempts, 0) as failed_attempts_on_item,
    coalesce(items.any_hard, 0) as is_hard_decline,
    case when cards.card_expires_on < items.snapshot_date
         then date_diff('day', cards.card_expires_on, items.snapshot_date) else 0 end as card_expired_days,
    date_diff('day', items.snapshot_date, cards.card_expires_on) as days_to_card_expiry,
    coalesce(af.failures_90d, 0) as failures_90d,
    coalesce(ae.failed_episodes_365d, 0) as failed_episodes_365d,
    coalesce(ae.unrecovered_episodes_365d, 0) as unrecovered_episodes_365d,
    ph.late_paid_share_365d,
    ph.avg_days_late_365d,
    coalesce(wo.write_offs_365d, 0) as write_offs_365d,
    coalesce(d.disputes_365d, 0) as disputes_365d,
    coalesce(p.broken_promises_180d, 0) as broken_promises_180d,
    coalesce(p.kept_promises_180d, 0) as kept_promises_180d,
    coalesce(p.has_open_promise, 0) as has_open_promise,
    coalesce(t.touches_30d, 0) as touches_30d,
    coalesce(t.responses_30d, 0) as responses_30d,
    coalesce(t.bounces_30d, 0) as bounces_30d,
    date_diff('day', t.last_response_date, items.snapshot_date) as days_since_last_response,
    ar.account_open_items,
    ar.account_overdue_share,
    ar.account_max_days_past_due,
    extract(day from items.snapshot_date) as snapshot_day_of_month,
    date_diff('day', items.snapshot_date, last_day(items.snapshot_date)) as days_to_month_end,
    items.first_failure_date,
    items.due_date,
    cards.card_expires_on,
    case when items.snapshot_date + {horizon} <= date '{as_of}'
         then cast(items.uncleared_after_horizon > 0.005 as integer) end as not_recovered_30d
from items
inner join marts.dim_accounts as a on a.account_id = items.account_id
left join cards on cards.account_id = items.account_id and cards.snapshot_date = items.snapshot_date
left join account_failures as af on af.account_id = items.account_id and af.snapshot_date = items.snapshot_date
left join account_episodes as ae on ae.account_id = items.account_id and ae.snapshot_date = items.snapshot_date
left join paid_history as ph on ph.account_id = items.account_id and ph.snapshot_date = items.snapshot_date
left join write_offs as wo on wo.account_id = items.account_id and wo.snapshot_date = items.snapshot_date
left join disputes as d on d.account_id = items.account_id and d.snapshot_date = items.snapshot_date
left join promises as p on p.account_id = items.account_id and p.snapshot_date = items.snapshot_date
left join touches as t on t.account_id = items.account_id and t.snapshot_date = items.snapshot_date
left join account_ar as ar on ar.account_id = items.account_id and ar.snapshot_date = items.snapshot_date
order by items.snapshot_date, items.invoice_id
"""


def build_features(con: duckdb.DuckDBPyConnection, snapshot_dates: list, as_of: str) -> pd.DataFrame:
    """Features (and the label where its 30-day window ended by `as_of`) for every item at every snapshot.

    Snapshot semantics: the item is seen at the start of `snapshot_date`, knowing events of earlier days only.
    """
    register_dates(con, "_snapshots", snapshot_dates)
    sql = FEATURE_SQL.format(horizon=HORIZON_DAYS, due_soon=DUE_SOON_DAYS, as_of=as_of)
    frame = read_frame(con, sql)
    frame["snapshot_date"] = pd.to_datetime(frame["snapshot_date"])
    frame[NUMERIC] = frame[NUMERIC].astype("float64")  # nullable ints -> NaN, as scikit-learn expects
    frame[CATEGORICAL] = frame[CATEGORICAL].astype(str)
    return frame


def training_snapshots(con: duckdb.DuckDBPyConnection, as_of: str) -> list[pd.Timestamp]:
    """Month starts whose 30-day outcome window has closed by the as-of date (the day after each month end)."""
    first = read_frame(con, "select min(invoice_date) as d from marts.fct_invoices")["d"].iloc[0]
    starts = pd.date_range(pd.Timestamp(first) + pd.offsets.MonthBegin(2), pd.Timestamp(as_of), freq="MS")
    return [s for s in starts if s + pd.Timedelta(days=HORIZON_DAYS) <= pd.Timestamp(as_of)]
