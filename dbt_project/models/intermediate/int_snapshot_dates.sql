-- Aging is reported at every month end up to the as-of date, and at the as-of date itself.
with events as (
    select * from {{ ref('int_ar_events') }}
),

month_ends as (
    select distinct cast(last_day(event_date) as date) as snapshot_date
    from events
    where cast(last_day(event_date) as date) < {{ as_of_date() }}
),

final as (
    select snapshot_date from month_ends
    union
    select {{ as_of_date() }} as snapshot_date
)

select * from final
