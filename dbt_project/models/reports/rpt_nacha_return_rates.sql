-- NACHA ACH return rates on a 60-day rolling window at each month end and the as-of date, against the
-- thresholds: unauthorized 0.5 %, administrative 3.0 %, overall 15 %.
with attempts as (
    select * from {{ ref('fct_payment_attempts') }}
    where attempt_method = 'ach_debit'
),

dates as (
    select distinct cast(last_day(attempted_local_date) as date) as window_end
    from attempts
    where cast(last_day(attempted_local_date) as date) < {{ as_of_date() }}
    union
    select {{ as_of_date() }}
),

windowed as (
    select
        dates.window_end,
        count(*) as debit_count,
        count(*) filter (where attempts.return_code is not null) as returned_count,
        count(*) filter (where attempts.nacha_category = 'unauthorized') as unauthorized_count,
        count(*) filter (where attempts.nacha_category = 'administrative') as administrative_count
    from dates
    inner join attempts
        on attempts.attempted_local_date > {{ dbt.dateadd('day', -60, 'dates.window_end') }}
        and attempts.attempted_local_date <= dates.window_end
    group by dates.window_end
)

select
    windowed.*,
    round(cast(returned_count as double) / nullif(debit_count, 0), 5) as overall_return_rate,
    round(cast(unauthorized_count as double) / nullif(debit_count, 0), 5) as unauthorized_return_rate,
    round(cast(administrative_count as double) / nullif(debit_count, 0), 5) as administrative_return_rate,
    cast(returned_count as double) / nullif(debit_count, 0) > 0.15 as breaches_overall_threshold,
    cast(unauthorized_count as double) / nullif(debit_count, 0) > 0.005 as breaches_unauthorized_threshold,
    cast(administrative_count as double) / nullif(debit_count, 0) > 0.03 as breaches_administrative_threshold
from windowed
