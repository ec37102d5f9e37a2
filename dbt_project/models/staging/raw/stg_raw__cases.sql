with source as (
    select * from {{ source('raw', 'cases') }}
),

renamed as (
    select
        case_id,
        account_id,
        invoice_id,
        case_type,
        opened_at,
        cast({{ utc_to_local('opened_at') }} as date) as opened_local_date,
        closed_at,
        cast({{ utc_to_local('closed_at') }} as date) as closed_local_date_at_extract,
        status as status_at_extract,
        owner,
        subject,
        notes
    from source
),

-- Point in time: a case closed after the as-of date was still open then.
final as (
    select
        *,
        case when closed_local_date_at_extract <= {{ as_of_date() }} then closed_local_date_at_extract end
            as closed_local_date,
        case
            when closed_local_date_at_extract <= {{ as_of_date() }} then 'closed'
            when status_at_extract = 'closed' then 'working'
            else status_at_extract
        end as status
    from renamed
    where opened_local_date <= {{ as_of_date() }}
)

select * from final
