-- One row per currency and rate period: a rate holds from its date until the next one. The earliest rate also
-- covers anything before it, and the reporting currency converts at 1.
with rates as (
    select * from {{ ref('stg_raw__fx_rates') }}
),

ranged as (
    select
        currency,
        rate_to_reporting,
        case
            when row_number() over (partition by currency order by rate_date) = 1 then cast('1900-01-01' as date)
            else rate_date
        end as valid_from,
        coalesce(
            cast(lead(rate_date) over (partition by currency order by rate_date) - 1 as date),
            cast('9999-12-31' as date)
        ) as valid_to
    from rates
),

reporting as (
    select
        '{{ var("reporting_currency") }}' as currency,
        cast(1 as decimal(18,8)) as rate_to_reporting,
        cast('1900-01-01' as date) as valid_from,
        cast('9999-12-31' as date) as valid_to
),

final as (
    select * from ranged
    where currency <> '{{ var("reporting_currency") }}'
    union all
    select * from reporting
)

select * from final
