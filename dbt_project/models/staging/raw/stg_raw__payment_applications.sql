with source as (
    select * from {{ source('raw', 'payment_applications') }}
),

renamed as (
    select
        application_id,
        payment_id,
        invoice_id,
        cast(applied_amount as decimal(18,2)) as applied_amount,
        applied_at,
        {{ utc_to_local('applied_at') }} as applied_local_at
    from source
),

final as (
    select
        *,
        cast(applied_local_at as date) as applied_local_date,
        cast(date_trunc('month', applied_local_at) as date) as posting_period
    from renamed
    where cast(applied_local_at as date) <= {{ as_of_date() }}
)

select * from final
