-- One row per invoice posted by the as-of date: balances, days past due and aging bucket as of that date.
with invoices as (
    select * from {{ ref('int_invoices_converted') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

events as (
    select * from {{ ref('int_ar_events') }}
),

balances as (
    select
        invoice_id,
        {{ money("sum(case when event_type = 'cash_applied' then -amount else 0 end)") }} as applied_amount,
        {{ money("sum(case when event_type = 'credit' then -amount else 0 end)") }} as credit_amount,
        {{ money("sum(case when event_type = 'write_off' then -amount else 0 end)") }} as write_off_amount,
        {{ money("sum(case when event_type = 'chargeback' then amount else 0 end)") }} as chargeback_amount,
        {{ money('sum(amount)') }} as open_amount,
        {{ money('sum(amount_reporting)') }} as open_amount_reporting
    from events
    group by invoice_id
),

running as (
    select
        invoice_id,
        event_date,
        sum(amount) over (partition by invoice_id order by event_date rows between unbounded preceding and current row)
            as balance_after
    from (
        select invoice_id, event_date, sum(amount) as amount
        from events
        group by invoice_id, event_date
    ) as daily
),

settled as (
    -- The last day the balance reached zero (or below) and stayed there.
    select
        invoice_id,
        max(case when balance_after <= 0 then event_date end) as last_zero_date,
        max(event_date) as last_event_date
    from running
    group by invoice_id
),

final as (
    select
        invoices.invoice_id,
        invoices.account_id,
        accounts.segment,
        accounts.collector,
        accounts.billing_method,
        invoices.invoice_date,
        invoices.due_date,
        invoices.posted_at,
        invoices.posting_period,
        invoices.currency,
        invoices.book_rate,
        invoices.invoice_amount,
        invoices.tax_amount,
        {{ money('invoices.invoice_amount * invoices.book_rate') }} as invoice_amount_reporting,
        invoices.is_void,
        coalesce(balances.applied_amount, 0) as applied_amount,
        coalesce(balances.credit_amount, 0) as credit_amount,
        coalesce(balances.write_off_amount, 0) as write_off_amount,
        coalesce(balances.chargeback_amount, 0) as chargeback_amount,
        case when invoices.is_void then {{ money(0) }} else coalesce(balances.open_amount, 0) end as open_amount,
        case when invoices.is_void then {{ money(0) }} else coalesce(balances.open_amount_reporting, 0) end
            as open_amount_reporting,
        case
            when settled.last_zero_date = settled.last_event_date and balances.open_amount <= 0
                then settled.last_zero_date
        end as settled_date
    from invoices
    left join accounts
        on accounts.account_id = invoices.account_id
    left join balances
        on balances.invoice_id = invoices.invoice_id
    left join settled
        on settled.invoice_id = invoices.invoice_id
),

classified as (
    select
        final.*,
        case
            when open_amount > 0 then cast({{ dbt.datediff('due_date', as_of_date(), 'day') }} as bigint)
        end as days_past_due,
        case
            when is_void then 'void'
            when open_amount < 0 then 'credit_balance'
            when open_amount = 0 and write_off_amount > 0 then 'written_off'
            when open_amount = 0 then 'paid'
            when due_date >= {{ as_of_date() }} then 'open'
            when applied_amount + credit_amount > 0 then 'partially_paid_overdue'
            else 'overdue'
        end as invoice_status,
        settled_date > due_date as is_paid_late
    from final
)

select
    classified.*,
    case when open_amount > 0 then {{ aging_bucket('days_past_due') }} end as aging_bucket
from classified
