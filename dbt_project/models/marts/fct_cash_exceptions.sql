-- Cash a collections team must chase as of the as-of date: unapplied cash and misapplied applications.
with payments as (
    select * from {{ ref('fct_payments') }}
),

applications as (
    select * from {{ ref('fct_payment_applications') }}
),

unapplied as (
    select
        'unapplied_cash' as exception_type,
        payment_id,
        cast(null as string) as application_id,
        account_id,
        unapplied_amount as exception_amount,
        currency,
        effective_date as since_date,
        case
            when applied_amount = 0 then 'no remittance matched: payment not applied to any invoice'
            else 'payment exceeds what was applied (overpayment or partial application)'
        end as reason
    from payments
    where unapplied_amount > 0
),

misapplied as (
    select
        'misapplied_cash' as exception_type,
        applications.payment_id,
        applications.application_id,
        applications.payment_account_id as account_id,
        applications.applied_amount as exception_amount,
        payments.currency,
        applications.applied_local_date as since_date,
        case
            when applications.is_other_account then 'applied to another account''s invoice'
            when applications.is_applied_to_void then 'applied to a void invoice'
            else 'remittance names ' || applications.remittance_invoice_id || ' but cash went to '
                || applications.invoice_id
        end as reason
    from applications
    inner join payments
        on payments.payment_id = applications.payment_id
    where applications.is_misapplied
),

final as (
    select * from unapplied
    union all
    select * from misapplied
)

select
    final.*,
    cast({{ dbt.datediff('since_date', as_of_date(), 'day') }} as bigint) as age_days
from final
