-- Daily status for the last 400 days up to the as-of date: invoiced, cash collected, failed attempts, recoveries
-- and open AR at the end of each day (reporting currency).
with events as (
    select * from {{ ref('int_ar_events') }}
),

payments as (
    select * from {{ ref('fct_payments') }}
),

attempts as (
    select * from {{ ref('fct_payment_attempts') }}
),

episodes as (
    select * from {{ ref('fct_failed_payment_episodes') }}
),

days as (
    {{ date_spine(dbt.dateadd('day', -399, as_of_date()), as_of_date()) }}
),

ledger as (
    select
        event_date,
        sum(amount_reporting) as net_change,
        sum(case when event_type = 'invoiced' then amount_reporting else 0 end) as invoiced
    from events
    group by event_date
),

opening as (
    select coalesce(sum(amount_reporting), 0) as ar_before
    from events
    where event_date < {{ dbt.dateadd('day', -399, as_of_date()) }}
),

cash as (
    select posted_local_date, sum(payment_amount_reporting) as cash_collected, count(*) as payment_count
    from payments
    group by posted_local_date
),

failures as (
    select attempted_local_date, count(*) as failed_attempt_count
    from attempts
    where is_failed
    group by attempted_local_date
),

recoveries as (
    select cast(recovered_at as date) as recovered_date, count(*) as recovered_count,
           sum(failed_amount_reporting) as recovered_amount
    from episodes
    where is_recovered
    group by cast(recovered_at as date)
),

final as (
    select
        cast(days.date_day as date) as report_date,
        {{ money('coalesce(ledger.invoiced, 0)') }} as invoiced_amount,
        {{ money('coalesce(cash.cash_collected, 0)') }} as cash_collected,
        cast(coalesce(cash.payment_count, 0) as bigint) as payment_count,
        cast(coalesce(failures.failed_attempt_count, 0) as bigint) as failed_attempt_count,
        cast(coalesce(recoveries.recovered_count, 0) as bigint) as recovered_episode_count,
        {{ money('coalesce(recoveries.recovered_amount, 0)') }} as recovered_amount,
        {{ money('opening.ar_before + sum(coalesce(ledger.net_change, 0)) over (order by days.date_day rows between unbounded preceding and current row)') }}
            as open_ar,
        {{ is_weekend('days.date_day') }} as is_weekend
    from days
    cross join opening
    -- Days before the book starts are not reported.
    inner join (select min(event_date) as first_day from events) as book
        on days.date_day >= book.first_day
    left join ledger
        on ledger.event_date = days.date_day
    left join cash
        on cash.posted_local_date = days.date_day
    left join failures
        on failures.attempted_local_date = days.date_day
    left join recoveries
        on recoveries.recovered_date = days.date_day
)

select * from final
