with source as (
    select * from {{ source('raw', 'promises_to_pay') }}
),

renamed as (
    select
        promise_id,
        account_id,
        invoice_id,
        plan_id,
        promised_at,
        cast({{ utc_to_local('promised_at') }} as date) as promised_local_date,
        promised_date,
        cast(promised_amount as decimal(18,2)) as promised_amount,
        currency,
        coalesce(collector, 'unassigned') as collector,
        status as status_at_extract
    from source
)

select * from renamed
where promised_local_date <= {{ as_of_date() }}
