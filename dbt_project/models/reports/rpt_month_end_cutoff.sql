-- Month-end cutoff: money events whose posting (in the close timezone) fell in a later period than their
-- business date. They stay in the period of posting, so closed periods are never rewritten; this lists them.
with payments as (
    select * from {{ ref('stg_raw__payments') }}
),

invoices as (
    select * from {{ ref('stg_raw__invoices') }}
),

events as (
    select
        'payment' as event_type,
        payment_id as source_id,
        account_id,
        effective_date as business_date,
        posted_at,
        posted_local_at,
        posting_period,
        payment_amount as amount,
        currency
    from payments
    union all
    select
        'invoice',
        invoice_id,
        account_id,
        invoice_date,
        posted_at,
        posted_local_at,
        posting_period,
        invoice_amount,
        currency
    from invoices
)

select
    events.*,
    cast(date_trunc('month', business_date) as date) as business_period,
    {{ elapsed_minutes('cast(last_day(business_date) as timestamp)', 'posted_local_at') }}
        - 1440 as minutes_after_period_end
from events
where posting_period > cast(date_trunc('month', business_date) as date)
