with source as (
    select * from {{ source('raw', 'payments') }}
),

renamed as (
    select
        payment_id,
        account_id,
        method as payment_method,
        cast(amount as decimal(18,2)) as payment_amount,
        currency,
        effective_date,
        posted_at,
        {{ utc_to_local('posted_at') }} as posted_local_at,
        attempt_id,
        reference_text,
        gateway
    from source
),

final as (
    select
        *,
        cast(posted_local_at as date) as posted_local_date,
        cast(date_trunc('month', posted_local_at) as date) as posting_period
    from renamed
    where cast(posted_local_at as date) <= {{ as_of_date() }}
)

select * from final
