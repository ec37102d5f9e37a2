with source as (
    select * from {{ source('raw', 'payment_attempts') }}
),

renamed as (
    select
        attempt_id,
        invoice_id,
        account_id,
        attempted_at,
        {{ utc_to_local('attempted_at') }} as attempted_local_at,
        cast(amount as decimal(18,2)) as attempt_amount,
        currency,
        method as attempt_method,
        outcome as outcome_at_extract,
        nullif(trim(decline_code), '') as decline_code,
        nullif(trim(response_code), '') as response_code,
        nullif(trim(advice_code), '') as advice_code,
        card_brand,
        card_last4,
        card_exp_month,
        card_exp_year,
        case
            when card_exp_year is not null and card_exp_month is not null
                then cast(last_day(make_date(cast(card_exp_year as int), cast(card_exp_month as int), 1)) as date)
        end as card_expires_on,
        attempt_number,
        coalesce(is_customer_initiated, false) as is_customer_initiated,
        coalesce(gateway, 'unknown') as gateway
    from source
),

final as (
    select
        *,
        cast(attempted_local_at as date) as attempted_local_date
    from renamed
    where cast(attempted_local_at as date) <= {{ as_of_date() }}
)

select * from final
