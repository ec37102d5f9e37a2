-- Cash applied never exceeds the payment it comes from: checked on fct_payments and recomputed from the
-- application lines of fct_payment_applications. Returns the offending payments.
with payments as (
    select * from {{ ref('fct_payments') }}
),

applications as (
    select * from {{ ref('fct_payment_applications') }}
),

applied_lines as (
    select
        payment_id,
        cast(sum(applied_amount) as decimal(18,2)) as applied_amount
    from applications
    group by payment_id
),

compared as (
    select
        coalesce(payments.payment_id, applied_lines.payment_id) as payment_id,
        payments.payment_amount,
        payments.applied_amount as payment_applied_amount,
        applied_lines.applied_amount as line_applied_amount
    from payments
    full outer join applied_lines
        on applied_lines.payment_id = payments.payment_id
)

select *
from compared
where payment_amount is null
    or payment_applied_amount > payment_amount
    or coalesce(line_applied_amount, 0) > payment_amount
