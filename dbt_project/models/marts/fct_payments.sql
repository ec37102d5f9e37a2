-- One row per payment received by the as-of date, with what was applied, refunded and is still unapplied.
with payments as (
    select * from {{ ref('stg_raw__payments') }}
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

refunds as (
    select * from {{ ref('stg_raw__refunds') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

rates as (
    select * from {{ ref('int_fx_rates_valid') }}
),

applied as (
    select payment_id, {{ money('sum(applied_amount)') }} as applied_amount, count(*) as application_count
    from applications
    group by payment_id
),

refunded as (
    select payment_id, {{ money('sum(refund_amount)') }} as refund_amount
    from refunds
    group by payment_id
),

final as (
    select
        payments.payment_id,
        payments.account_id,
        accounts.segment,
        accounts.collector,
        payments.payment_method,
        payments.currency,
        payments.payment_amount,
        {{ money('payments.payment_amount * coalesce(rates.rate_to_reporting, 1)') }} as payment_amount_reporting,
        payments.effective_date,
        payments.posted_at,
        payments.posted_local_date,
        payments.posting_period,
        payments.attempt_id,
        payments.gateway,
        payments.reference_text,
        coalesce(applied.applied_amount, 0) as applied_amount,
        cast(coalesce(applied.application_count, 0) as bigint) as application_count,
        coalesce(refunded.refund_amount, 0) as refund_amount,
        {{ money('payments.payment_amount - coalesce(applied.applied_amount, 0) - coalesce(refunded.refund_amount, 0)') }}
            as unapplied_amount
    from payments
    left join accounts
        on accounts.account_id = payments.account_id
    left join applied
        on applied.payment_id = payments.payment_id
    left join refunded
        on refunded.payment_id = payments.payment_id
    left join rates
        on rates.currency = payments.currency
        and payments.effective_date between rates.valid_from and rates.valid_to
)

select * from final
