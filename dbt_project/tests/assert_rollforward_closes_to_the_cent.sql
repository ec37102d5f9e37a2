-- Every roll-forward row closes to the cent in both currencies:
--     opening + invoiced - cash applied - credits - write-offs + chargebacks = closing,
-- and each period opens at the previous period's closing for its currency (the first period opens at zero).
-- Returns the offending rows.
with rollforward as (
    select * from {{ ref('fct_ar_rollforward') }}
),

checked as (
    select
        posting_period,
        currency,
        opening_ar + invoiced_amount - cash_applied_amount - credit_amount - write_off_amount
            + chargeback_amount - closing_ar as closing_difference,
        opening_ar_reporting + invoiced_reporting - cash_applied_reporting - credit_reporting
            - write_off_reporting + chargeback_reporting - closing_ar_reporting as closing_difference_reporting,
        opening_ar - coalesce(
            lag(closing_ar) over (partition by currency order by posting_period), cast(0 as decimal(18,2))
        ) as opening_difference,
        opening_ar_reporting - coalesce(
            lag(closing_ar_reporting) over (partition by currency order by posting_period), cast(0 as decimal(18,2))
        ) as opening_difference_reporting
    from rollforward
)

select *
from checked
where closing_difference <> 0
    or closing_difference_reporting <> 0
    or opening_difference <> 0
    or opening_difference_reporting <> 0
