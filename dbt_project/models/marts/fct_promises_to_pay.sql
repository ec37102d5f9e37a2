-- One row per promise to pay taken by the as-of date, judged from cash: kept when the promised invoice (or, for
-- an account-level promise, the account) received at least the promised amount by the promised date plus grace.
with promises as (
    select * from {{ ref('stg_raw__promises_to_pay') }}
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

cash_by_invoice as (
    select
        promises.promise_id,
        sum(applications.applied_amount) as paid_amount,
        max(applications.applied_local_date) as last_paid_date
    from promises
    inner join applications
        on applications.invoice_id = promises.invoice_id
        and applications.applied_local_date >= promises.promised_local_date
        and applications.applied_local_date <= {{ dbt.dateadd('day', var('promise_grace_days'), 'promises.promised_date') }}
    group by promises.promise_id
),

cash_by_account as (
    select
        promises.promise_id,
        sum(payments.payment_amount) as paid_amount,
        max(payments.posted_local_date) as last_paid_date
    from promises
    inner join payments
        on payments.account_id = promises.account_id
        and payments.posted_local_date >= promises.promised_local_date
        and payments.posted_local_date <= {{ dbt.dateadd('day', var('promise_grace_days'), 'promises.promised_date') }}
    where promises.invoice_id is null
    group by promises.promise_id
),

final as (
    select
        promises.promise_id,
        promises.account_id,
        promises.invoice_id,
        promises.plan_id,
        promises.promised_at,
        promises.promised_local_date,
        promises.promised_date,
        promises.promised_amount,
        promises.currency,
        promises.collector,
        {{ money('coalesce(cash_by_invoice.paid_amount, cash_by_account.paid_amount, 0)') }} as paid_by_due_amount,
        cast({{ dbt.dateadd('day', var('promise_grace_days'), 'promises.promised_date') }} as date) as grace_end_date
    from promises
    left join cash_by_invoice
        on cash_by_invoice.promise_id = promises.promise_id
    left join cash_by_account
        on cash_by_account.promise_id = promises.promise_id
)

select
    final.*,
    case
        when paid_by_due_amount >= promised_amount - 0.01 then 'kept'
        when grace_end_date < {{ as_of_date() }} then 'broken'
        else 'open'
    end as promise_status,
    grace_end_date >= {{ as_of_date() }} and promised_date <= {{ dbt.dateadd('day', 7, as_of_date()) }}
        and paid_by_due_amount < promised_amount - 0.01 as is_due_soon
from final
