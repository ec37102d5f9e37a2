-- Monthly operational KPIs per dimension (all, segment, collector, billing_method): failed-payment recovery
-- (30-day window, cohort of first failure), promise-to-pay kept rate, chargeback rate, involuntary churn and
-- unapplied cash at month end. Definitions: docs/kpis.md.
with accounts as (
    select * from {{ ref('dim_accounts') }}
),

episodes as (
    select * from {{ ref('fct_failed_payment_episodes') }}
),

promises as (
    select * from {{ ref('fct_promises_to_pay') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
),

disputes as (
    select * from {{ ref('stg_raw__disputes') }}
),

applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

refunds as (
    select * from {{ ref('stg_raw__refunds') }}
),

invoices as (
    select * from {{ ref('fct_invoices') }}
),

account_dimensions as (
    select account_id, 'all' as dimension, 'all' as dimension_value from accounts
    union all
    select account_id, 'segment', segment from accounts
    union all
    select account_id, 'collector', collector from accounts
    union all
    select account_id, 'billing_method', billing_method from accounts
),

recovery as (
    select
        account_dimensions.dimension, account_dimensions.dimension_value, episodes.failure_cohort as period,
        count(*) filter (where episodes.is_mature_30d) as matured_failures,
        count(*) filter (where episodes.is_mature_30d and episodes.is_recovered_30d) as recovered_failures,
        sum(case when episodes.is_mature_30d then episodes.failed_amount_reporting else 0 end) as matured_amount,
        sum(case when episodes.is_mature_30d and episodes.is_recovered_30d then episodes.failed_amount_reporting
                 else 0 end) as recovered_amount
    from episodes
    inner join account_dimensions on account_dimensions.account_id = episodes.account_id
    group by 1, 2, 3
),

promise_rates as (
    select
        account_dimensions.dimension, account_dimensions.dimension_value,
        cast(date_trunc('month', promises.promised_date) as date) as period,
        count(*) filter (where promises.promise_status in ('kept', 'broken')) as promises_due,
        count(*) filter (where promises.promise_status = 'kept') as promises_kept
    from promises
    inner join account_dimensions on account_dimensions.account_id = promises.account_id
    group by 1, 2, 3
),

card_payments as (
    select
        account_dimensions.dimension, account_dimensions.dimension_value, payments.posting_period as period,
        count(*) filter (where payments.payment_method = 'card') as card_payment_count
    from payments
    inner join account_dimensions on account_dimensions.account_id = payments.account_id
    group by 1, 2, 3
),

dispute_counts as (
    select
        account_dimensions.dimension, account_dimensions.dimension_value,
        cast(date_trunc('month', disputes.opened_local_date) as date) as period,
        count(*) as disputes_opened
    from disputes
    inner join account_dimensions on account_dimensions.account_id = disputes.account_id
    group by 1, 2, 3
),

last_invoice as (
    select account_id, max(invoice_date) as last_invoice_date
    from invoices
    group by account_id
),

churned as (
    -- Involuntary churn: an account whose failed payment was never recovered and that was not invoiced again
    -- in the 45 days after the failure (its subscription lapsed), counted in the month of the failure.
    select
        account_dimensions.dimension, account_dimensions.dimension_value, episodes.failure_cohort as period,
        count(distinct episodes.account_id) as churned_accounts
    from episodes
    inner join last_invoice on last_invoice.account_id = episodes.account_id
    inner join account_dimensions on account_dimensions.account_id = episodes.account_id
    where episodes.episode_status in ('abandoned', 'closed_without_cash')
        and last_invoice.last_invoice_date <= {{ dbt.dateadd('day', 15, 'episodes.first_failed_date') }}
        and episodes.first_failed_date <= {{ dbt.dateadd('day', -45, as_of_date()) }}
    group by 1, 2, 3
),

active as (
    select
        account_dimensions.dimension, account_dimensions.dimension_value,
        cast(date_trunc('month', invoices.invoice_date) as date) as period,
        count(distinct invoices.account_id) as active_accounts
    from invoices
    inner join account_dimensions on account_dimensions.account_id = invoices.account_id
    group by 1, 2, 3
),

{%- set at_payment_rate = ' * cast(payments.payment_amount_reporting as double)'
                          ~ ' / nullif(cast(payments.payment_amount as double), 0)' %}
unapplied_events as (
    -- Unapplied cash moves: + a receipt, - an application, - a refund (reporting currency at the payment rate,
    -- in doubles rounded to cents per move: a decimal division is a double on DuckDB but a decimal of Spark's own
    -- scale, and month-end sums differed by a cent).
    select account_id, posting_period as period, payment_amount_reporting as amount
    from payments
    union all
    select payments.account_id, applications.posting_period,
           {{ money('round(-cast(applications.applied_amount as double)' ~ at_payment_rate ~ ', 2)') }}
    from applications
    inner join payments on payments.payment_id = applications.payment_id
    union all
    select payments.account_id, refunds.posting_period,
           {{ money('round(-cast(refunds.refund_amount as double)' ~ at_payment_rate ~ ', 2)') }}
    from refunds
    inner join payments on payments.payment_id = refunds.payment_id
),

unapplied_moves as (
    select account_dimensions.dimension, account_dimensions.dimension_value, unapplied_events.period,
           sum(unapplied_events.amount) as net_change
    from unapplied_events
    inner join account_dimensions on account_dimensions.account_id = unapplied_events.account_id
    group by 1, 2, 3
),

grid as (
    select dimension, dimension_value, period from recovery
    union select dimension, dimension_value, period from promise_rates
    union select dimension, dimension_value, period from card_payments
    union select dimension, dimension_value, period from dispute_counts
    union select dimension, dimension_value, period from active
    union select dimension, dimension_value, period from unapplied_moves
),

-- Promises fall due after the as-of date too; months after it are not reported.
reported_grid as (
    select * from grid
    where period <= cast(date_trunc('month', {{ as_of_date() }}) as date)
),

final as (
    select
        grid.dimension,
        grid.dimension_value,
        grid.period,
        cast(coalesce(recovery.matured_failures, 0) as bigint) as matured_failures,
        cast(coalesce(recovery.recovered_failures, 0) as bigint) as recovered_failures_30d,
        round(cast(recovery.recovered_amount as double) / nullif(cast(recovery.matured_amount as double), 0), 4)
            as failed_payment_recovery_rate_30d,
        cast(coalesce(promise_rates.promises_due, 0) as bigint) as promises_due,
        round(cast(promise_rates.promises_kept as double) / nullif(promise_rates.promises_due, 0), 4)
            as promise_kept_rate,
        cast(coalesce(dispute_counts.disputes_opened, 0) as bigint) as disputes_opened,
        round(cast(coalesce(dispute_counts.disputes_opened, 0) as double)
              / nullif(card_payments.card_payment_count, 0), 5) as chargeback_rate,
        cast(coalesce(active.active_accounts, 0) as bigint) as invoiced_accounts,
        cast(coalesce(churned.churned_accounts, 0) as bigint) as involuntary_churned_accounts,
        round(cast(churned.churned_accounts as double)
              / nullif(lag(active.active_accounts) over (
                    partition by grid.dimension, grid.dimension_value order by grid.period), 0), 5)
            as involuntary_churn_rate,
        {{ money("sum(coalesce(unapplied_moves.net_change, 0)) over (partition by grid.dimension, grid.dimension_value order by grid.period rows between unbounded preceding and current row)") }}
            as unapplied_cash_at_period_end
    from reported_grid as grid
    left join recovery using (dimension, dimension_value, period)
    left join promise_rates using (dimension, dimension_value, period)
    left join card_payments using (dimension, dimension_value, period)
    left join dispute_counts using (dimension, dimension_value, period)
    left join active using (dimension, dimension_value, period)
    left join churned using (dimension, dimension_value, period)
    left join unapplied_moves using (dimension, dimension_value, period)
)

select * from final
