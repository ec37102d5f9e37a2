-- The roll-forward's closing AR of the latest period of each currency equals the open balances of fct_invoices in
-- that currency, in the document currency and in the reporting currency. Returns the currencies that differ.
with rollforward as (
    select * from {{ ref('fct_ar_rollforward') }}
),

invoices as (
    select * from {{ ref('fct_invoices') }}
),

latest as (
    select currency, closing_ar, closing_ar_reporting
    from (
        select
            currency,
            closing_ar,
            closing_ar_reporting,
            row_number() over (partition by currency order by posting_period desc) as period_rank
        from rollforward
    ) as ranked
    where period_rank = 1
),

open_invoices as (
    select
        currency,
        cast(sum(open_amount) as decimal(18,2)) as open_amount,
        cast(sum(open_amount_reporting) as decimal(18,2)) as open_amount_reporting
    from invoices
    group by currency
),

compared as (
    select
        coalesce(latest.currency, open_invoices.currency) as currency,
        coalesce(latest.closing_ar, 0) as closing_ar,
        coalesce(open_invoices.open_amount, 0) as open_amount,
        coalesce(latest.closing_ar_reporting, 0) as closing_ar_reporting,
        coalesce(open_invoices.open_amount_reporting, 0) as open_amount_reporting
    from latest
    full outer join open_invoices
        on open_invoices.currency = latest.currency
)

select *
from compared
where closing_ar <> open_amount
    or closing_ar_reporting <> open_amount_reporting
