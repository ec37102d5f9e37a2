with source as (
    select * from {{ source('raw', 'refunds') }}
),

renamed as (
    select
        refund_id,
        account_id,
        payment_id,
        cast(amount as decimal(18,2)) as refund_amount,
        currency,
        posted_at,
        {{ utc_to_local('posted_at') }} as posted_local_at,
        reason
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
