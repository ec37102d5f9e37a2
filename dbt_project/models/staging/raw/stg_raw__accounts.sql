with source as (
    select * from {{ source('raw', 'accounts') }}
),

renamed as (
    select
        account_id,
        account_name,
        segment,
        coalesce(industry, 'unknown') as industry,
        country,
        currency,
        payment_terms,
        case payment_terms
            when 'due_on_receipt' then 0 when 'net_15' then 15 when 'net_30' then 30
            when 'net_45' then 45 when 'net_60' then 60
        end as terms_days,
        billing_method,
        coalesce(owner, 'unassigned') as collector,
        cast(credit_limit_amount as decimal(18,2)) as credit_limit_amount,
        created_date
    from source
    where created_date <= {{ as_of_date() }}
)

select * from renamed
