-- The AR ledger: one row per event that moves an invoice's open balance, signed (+ raises AR), dated by its
-- posting in the close timezone. Every balance, aging snapshot and roll-forward is a sum over this table.
with invoices as (
    select * from {{ ref('int_invoices_converted') }}
    where not is_void
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

credits as (
    select * from {{ ref('stg_raw__credit_memos') }}
    where invoice_id is not null
),

write_offs as (
    select * from {{ ref('stg_raw__write_offs') }}
),

chargebacks as (
    select * from {{ ref('int_chargebacks_applied') }}
),

events as (
    select invoice_id, 'invoiced' as event_type, invoice_id as source_id, posted_local_date as event_date,
           invoice_amount as amount
    from invoices
    union all
    select invoice_id, 'cash_applied', application_id, applied_local_date, -applied_amount
    from applications
    union all
    select invoice_id, 'credit', credit_memo_id, posted_local_date, -credit_amount
    from credits
    union all
    select invoice_id, 'write_off', write_off_id, posted_local_date, -write_off_amount
    from write_offs
    union all
    select invoice_id, 'chargeback', dispute_id, closed_local_date, dispute_amount
    from chargebacks
),

ordered as (
    select
        events.invoice_id,
        invoices.account_id,
        invoices.currency,
        events.event_type,
        events.source_id,
        events.event_date,
        {{ money('events.amount') }} as amount,
        invoices.book_rate,
        -- Cast back to money: Spark widens a sum to decimal(28,2), which times the rate exceeds 38 digits, so Spark
        -- would round the product to 6 decimals before the cents (383.0449998 -> 383.045 -> 383.05).
        cast(sum({{ money('events.amount') }}) over (
            partition by events.invoice_id order by events.event_date, events.event_type, events.source_id
            rows between unbounded preceding and current row
        ) as decimal(18,2)) as running_amount
    from events
    inner join invoices
        on invoices.invoice_id = events.invoice_id
),

-- Convert the running balance, then difference it: rounding never leaves a cent on a settled invoice.
converted as (
    select
        ordered.*,
        {{ money('running_amount * book_rate') }} as running_reporting
    from ordered
),

final as (
    select
        invoice_id,
        account_id,
        currency,
        event_type,
        source_id,
        event_date,
        cast(date_trunc('month', event_date) as date) as posting_period,
        amount,
        {{ money('running_reporting - coalesce(lag(running_reporting) over (partition by invoice_id order by event_date, event_type, source_id), 0)') }}
            as amount_reporting
    from converted
)

select * from final
