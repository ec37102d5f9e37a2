-- Invoices (not void) with their book rate: every event of an invoice converts to the reporting currency at the
-- rate of its invoice date, so the AR roll-forward reconciles in both currencies (FX revaluation not modelled).
with invoices as (
    select * from {{ ref('stg_raw__invoices') }}
),

rates as (
    select * from {{ ref('int_fx_rates_valid') }}
),

final as (
    select
        invoices.*,
        coalesce(rates.rate_to_reporting, cast(1 as decimal(18,8))) as book_rate,
        rates.currency is null as is_missing_rate
    from invoices
    left join rates
        on rates.currency = invoices.currency
        and invoices.invoice_date between rates.valid_from and rates.valid_to
)

select * from final
