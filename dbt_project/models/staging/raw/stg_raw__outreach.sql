with source as (
    select * from {{ source('raw', 'outreach') }}
),

renamed as (
    select
        touch_id,
        account_id,
        invoice_id,
        channel,
        direction,
        template_id,
        touched_at,
        {{ utc_to_local('touched_at') }} as touched_local_at,
        outcome,
        outcome in ('replied', 'right_party_contact', 'promise_made', 'payment_method_updated', 'dispute_raised')
            as is_response,
        collector,
        note
    from source
)

select
    *,
    cast(touched_local_at as date) as touched_local_date
from renamed
where cast(touched_local_at as date) <= {{ as_of_date() }}
