with source as (
    select * from {{ source('raw', 'disputes') }}
),

renamed as (
    select
        dispute_id,
        payment_id,
        account_id,
        network,
        trim(reason_code) as reason_code,
        cast(amount as decimal(18,2)) as dispute_amount,
        currency,
        opened_at,
        {{ utc_to_local('opened_at') }} as opened_local_at,
        closed_at,
        {{ utc_to_local('closed_at') }} as closed_local_at,
        status as status_at_extract
    from source
),

-- Point in time: a dispute decided after the as-of date was still open then.
final as (
    select
        *,
        cast(opened_local_at as date) as opened_local_date,
        case
            when closed_at is null or cast(closed_local_at as date) > {{ as_of_date() }} then 'open'
            else status_at_extract
        end as status,
        case
            when cast(closed_local_at as date) <= {{ as_of_date() }} then cast(closed_local_at as date)
        end as closed_local_date
    from renamed
    where cast(opened_local_at as date) <= {{ as_of_date() }}
)

select * from final
