-- Chargebacks that stand (lost or accepted) reopen the invoice the disputed payment paid (its largest application).
with disputes as (
    select * from {{ ref('stg_raw__disputes') }}
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

ranked_applications as (
    select
        payment_id,
        invoice_id,
        row_number() over (partition by payment_id order by applied_amount desc, invoice_id) as application_rank
    from applications
),

final as (
    select
        disputes.dispute_id,
        disputes.account_id,
        ranked_applications.invoice_id,
        disputes.dispute_amount,
        disputes.closed_local_date
    from disputes
    inner join ranked_applications
        on ranked_applications.payment_id = disputes.payment_id
        and ranked_applications.application_rank = 1
    where disputes.status in ('lost', 'accepted')
)

select * from final
