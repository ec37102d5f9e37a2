with source as (
    select * from {{ source('raw', 'ach_returns') }}
),

renamed as (
    select
        return_id,
        attempt_id,
        upper(trim(return_code)) as return_code,
        return_date,
        return_date <= {{ as_of_date() }} as is_known_at_as_of
    from source
)

select * from renamed
