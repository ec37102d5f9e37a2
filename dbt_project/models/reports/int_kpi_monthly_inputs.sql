-- The inputs every monthly KPI needs, one row per dimension value and month: AR and current AR at month end
-- (or the as-of date for the open month), credit sales, cash collected, write-offs and days in the period.
-- Dimensions: all, segment, collector, billing_method.
with snapshots as (
    select * from {{ ref('fct_aging_snapshots') }}
),

events as (
    select * from {{ ref('int_ar_events') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

periods as (
    select distinct posting_period as period from events
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

month_end_ar as (
    select
        account_dimensions.dimension,
        account_dimensions.dimension_value,
        cast(date_trunc('month', snapshots.snapshot_date) as date) as period,
        sum(snapshots.open_amount_reporting) as ending_ar,
        sum(case when snapshots.days_past_due <= 0 then snapshots.open_amount_reporting else 0 end)
            as ending_current_ar
    from snapshots
    inner join account_dimensions
        on account_dimensions.account_id = snapshots.account_id
    group by 1, 2, 3
),

flows as (
    select
        account_dimensions.dimension,
        account_dimensions.dimension_value,
        events.posting_period as period,
        sum(case when events.event_type = 'invoiced' then events.amount_reporting else 0 end) as credit_sales,
        sum(case when events.event_type = 'cash_applied' then -events.amount_reporting else 0 end) as cash_applied,
        sum(case when events.event_type = 'write_off' then -events.amount_reporting else 0 end) as write_offs
    from events
    inner join account_dimensions
        on account_dimensions.account_id = events.account_id
    group by 1, 2, 3
),

grid as (
    select distinct dimensions.dimension, dimensions.dimension_value, periods.period
    from (select distinct dimension, dimension_value from account_dimensions) as dimensions
    cross join periods
),

final as (
    select
        grid.dimension,
        grid.dimension_value,
        grid.period,
        {{ money('coalesce(month_end_ar.ending_ar, 0)') }} as ending_ar,
        {{ money('coalesce(month_end_ar.ending_current_ar, 0)') }} as ending_current_ar,
        {{ money('coalesce(flows.credit_sales, 0)') }} as credit_sales,
        {{ money('coalesce(flows.cash_applied, 0)') }} as cash_applied,
        {{ money('coalesce(flows.write_offs, 0)') }} as write_offs,
        cast(case
            when grid.period = cast(date_trunc('month', {{ as_of_date() }}) as date)
                then extract(day from {{ as_of_date() }})
            else extract(day from last_day(grid.period))
        end as bigint) as days_in_period
    from grid
    left join month_end_ar
        on month_end_ar.dimension = grid.dimension
        and month_end_ar.dimension_value = grid.dimension_value
        and month_end_ar.period = grid.period
    left join flows
        on flows.dimension = grid.dimension
        and flows.dimension_value = grid.dimension_value
        and flows.period = grid.period
)

select * from final
