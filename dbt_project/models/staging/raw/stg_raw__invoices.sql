with source as (
    select * from {{ source('raw', 'invoices') }}
),

renamed as (
    select
        invoice_id,
        account_id,
        invoice_date,
        due_date,
        posted_at,
        {{ utc_to_local('posted_at') }} as posted_local_at,
        currency,
        cast(amount as decimal(18,2)) as invoice_amount,
        cast(coalesce(tax_amount, 0) as decimal(18,2)) as tax_amount,
        status,
        status = 'void' as is_void,
        billing_period_start,
        billing_period_end,
        coalesce(source_system, 'unknown') as source_system
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
