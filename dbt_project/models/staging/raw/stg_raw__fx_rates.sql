with source as (
    select * from {{ source('raw', 'fx_rates') }}
),

renamed as (
    select
        rate_date,
        currency,
        cast(rate_to_reporting as decimal(18,8)) as rate_to_reporting
    from source
    where rate_date <= {{ as_of_date() }}
)

select * from renamed
