with source as (
    select * from {{ source('raw', 'payment_plans') }}
),

renamed as (
    select
        plan_id,
        account_id,
        invoice_ids,
        agreed_at,
        cast({{ utc_to_local('agreed_at') }} as date) as agreed_local_date,
        cast(total_amount as decimal(18,2)) as plan_amount,
        currency,
        installment_count,
        first_due_date,
        frequency,
        status as status_at_extract
    from source
)

select * from renamed
where agreed_local_date <= {{ as_of_date() }}
