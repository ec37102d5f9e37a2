-- Nothing in the marts happens after the as-of date: every event date (close timezone) is on or before
-- var('as_of_date'). UTC timestamps are not compared (a late-evening local event is already the next UTC day).
-- Returns one row per mart and date column with the count of future rows.
with dated as (
    select 'dim_accounts.created_date' as column_ref, created_date as event_date
    from {{ ref('dim_accounts') }}
    union all
    select 'fct_invoices.invoice_date', invoice_date from {{ ref('fct_invoices') }}
    union all
    select 'fct_invoices.posting_period', posting_period from {{ ref('fct_invoices') }}
    union all
    select 'fct_invoices.settled_date', settled_date from {{ ref('fct_invoices') }}
    union all
    select 'fct_payments.posted_local_date', posted_local_date from {{ ref('fct_payments') }}
    union all
    select 'fct_payment_applications.applied_local_date', applied_local_date
    from {{ ref('fct_payment_applications') }}
    union all
    select 'fct_payment_attempts.attempted_local_date', attempted_local_date
    from {{ ref('fct_payment_attempts') }}
    union all
    select 'fct_failed_payment_episodes.first_failed_date', first_failed_date
    from {{ ref('fct_failed_payment_episodes') }}
    union all
    select 'fct_failed_payment_episodes.settled_date', settled_date from {{ ref('fct_failed_payment_episodes') }}
    union all
    select 'fct_aging_snapshots.snapshot_date', snapshot_date from {{ ref('fct_aging_snapshots') }}
    union all
    select 'fct_ar_rollforward.posting_period', posting_period from {{ ref('fct_ar_rollforward') }}
    union all
    select 'fct_cash_exceptions.since_date', since_date from {{ ref('fct_cash_exceptions') }}
    union all
    select 'fct_promises_to_pay.promised_local_date', promised_local_date from {{ ref('fct_promises_to_pay') }}
)

select
    column_ref,
    count(*) as future_row_count,
    max(event_date) as latest_event_date
from dated
where event_date > {{ as_of_date() }}
group by column_ref
