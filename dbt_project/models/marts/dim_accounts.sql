with accounts as (
    select * from {{ ref('stg_raw__accounts') }}
),

final as (
    select
        account_id,
        account_name,
        segment,
        industry,
        country,
        currency,
        payment_terms,
        terms_days,
        billing_method,
        collector,
        credit_limit_amount,
        created_date,
        cast({{ dbt.datediff('created_date', as_of_date(), 'day') }} as bigint) as tenure_days
    from accounts
)

select * from final
