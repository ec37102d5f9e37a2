-- One row per invoice whose automatic card or ACH collection failed: from the first failure to recovery or
-- abandonment, as of the as-of date.
with attempts as (
    select * from {{ ref('fct_payment_attempts') }}
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

invoices as (
    select * from {{ ref('fct_invoices') }}
),

first_failures as (
    select *
    from (
        select
            attempts.*,
            row_number() over (partition by invoice_id order by attempted_at, attempt_id) as failure_rank
        from attempts
        where is_failed and not is_customer_initiated and invoice_id is not null
    ) as ranked
    where failure_rank = 1
),

after_failure as (
    select
        first_failures.invoice_id,
        count(*) filter (where attempts.is_failed and not attempts.is_customer_initiated) as failed_attempt_count,
        min(case when attempts.outcome = 'succeeded' and not attempts.is_customer_initiated
                 then attempts.attempted_at end) as retry_recovered_at,
        min(case when attempts.outcome = 'succeeded' and attempts.is_customer_initiated
                 then attempts.attempted_at end) as customer_recovered_at,
        max(attempts.attempted_at) as last_attempt_at
    from first_failures
    inner join attempts
        on attempts.invoice_id = first_failures.invoice_id
        and attempts.attempted_at >= first_failures.attempted_at
    group by first_failures.invoice_id
),

other_payments as (
    -- Cash that did not come through the gateway (wire, check...) applied after the failure.
    select
        first_failures.invoice_id,
        min(applications.applied_at) as other_recovered_at
    from first_failures
    inner join applications
        on applications.invoice_id = first_failures.invoice_id
        and applications.applied_at >= first_failures.attempted_at
    inner join payments
        on payments.payment_id = applications.payment_id
        and payments.attempt_id is null
    group by first_failures.invoice_id
),

joined as (
    select
        first_failures.invoice_id,
        first_failures.account_id,
        first_failures.attempt_id as first_failed_attempt_id,
        first_failures.attempted_at as first_failed_at,
        first_failures.attempted_local_date as first_failed_date,
        cast(date_trunc('month', first_failures.attempted_local_date) as date) as failure_cohort,
        first_failures.attempt_method,
        first_failures.card_brand,
        first_failures.card_expires_on,
        first_failures.decline_family,
        first_failures.decline_code,
        first_failures.return_code,
        first_failures.is_hard_decline,
        first_failures.resolution_path,
        first_failures.template_id,
        first_failures.currency,
        first_failures.attempt_amount as failed_amount,
        first_failures.attempt_amount_reporting as failed_amount_reporting,
        cast(after_failure.failed_attempt_count as bigint) as failed_attempt_count,
        after_failure.last_attempt_at,
        after_failure.retry_recovered_at,
        after_failure.customer_recovered_at,
        other_payments.other_recovered_at,
        invoices.open_amount,
        invoices.write_off_amount,
        invoices.settled_date
    from first_failures
    inner join after_failure
        on after_failure.invoice_id = first_failures.invoice_id
    left join other_payments
        on other_payments.invoice_id = first_failures.invoice_id
    left join invoices
        on invoices.invoice_id = first_failures.invoice_id
),

recovered as (
    select
        joined.*,
        least(
            coalesce(retry_recovered_at, cast('9999-12-31' as timestamp)),
            coalesce(customer_recovered_at, cast('9999-12-31' as timestamp)),
            coalesce(other_recovered_at, cast('9999-12-31' as timestamp))
        ) as first_cash_at
    from joined
),

final as (
    select
        recovered.*,
        case when first_cash_at < cast('9999-12-31' as timestamp) then first_cash_at end as recovered_at,
        case
            when first_cash_at = retry_recovered_at then 'automatic_retry'
            when first_cash_at = customer_recovered_at then 'customer_updated_payment_method'
            when first_cash_at = other_recovered_at then 'other_payment'
            when open_amount <= 0 and write_off_amount > 0 then 'write_off'
            when open_amount <= 0 then 'credit'
        end as recovered_by
    from recovered
)

select
    final.*,
    coalesce(recovered_by in ('automatic_retry', 'customer_updated_payment_method', 'other_payment'), false)
        as is_recovered,
    {{ elapsed_hours('first_failed_at', 'recovered_at') }} as hours_to_recovery,
    cast({{ dbt.datediff('first_failed_date', 'cast(recovered_at as date)', 'day') }} as bigint) as days_to_recovery,
    recovered_at is not null and {{ elapsed_hours('first_failed_at', 'recovered_at') }} < 720
        as is_recovered_30d,
    recovered_at is not null and {{ elapsed_hours('first_failed_at', 'recovered_at') }} < 1440
        as is_recovered_60d,
    first_failed_date <= {{ dbt.dateadd('day', -30, as_of_date()) }} as is_mature_30d,
    first_failed_date <= {{ dbt.dateadd('day', -60, as_of_date()) }} as is_mature_60d,
    case
        when recovered_by in ('automatic_retry', 'customer_updated_payment_method', 'other_payment') then 'recovered'
        when recovered_by in ('write_off', 'credit') then 'closed_without_cash'
        when first_failed_date > {{ dbt.dateadd('day', -30, as_of_date()) }} then 'in_progress'
        else 'abandoned'
    end as episode_status,
    cast({{ dbt.datediff('first_failed_date', as_of_date(), 'day') }} as bigint) as days_since_failure
from final
