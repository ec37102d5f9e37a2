-- Monthly collections KPIs per dimension value (definitions: docs/kpis.md): simple and countback DSO, best
-- possible DSO, ADD, CEI for the month and the trailing quarter, write-off %.
with inputs as (
    select * from {{ ref('int_kpi_monthly_inputs') }}
),

-- Countback DSO: walk back from the month, exhausting ending AR with each month's sales (at most 12 months;
-- a month with zero or negative sales stops the walk).
lookback as (
    select
        current_month.dimension,
        current_month.dimension_value,
        current_month.period,
        current_month.ending_ar,
        earlier.period as back_period,
        earlier.credit_sales as back_sales,
        earlier.days_in_period as back_days
    from inputs as current_month
    inner join inputs as earlier
        on earlier.dimension = current_month.dimension
        and earlier.dimension_value = current_month.dimension_value
        and earlier.period <= current_month.period
        and earlier.period > cast({{ dbt.dateadd('month', -12, 'current_month.period') }} as date)
),

walked as (
    select
        lookback.*,
        coalesce(sum(back_sales) over (
            partition by dimension, dimension_value, period order by back_period desc
            rows between unbounded preceding and 1 preceding), 0) as sales_before,
        coalesce(max(case when back_sales <= 0 then 1 else 0 end) over (
            partition by dimension, dimension_value, period order by back_period desc
            rows between unbounded preceding and current row), 0) as walk_stopped
    from lookback
),

countback as (
    select
        dimension,
        dimension_value,
        period,
        sum(case
                when walk_stopped = 1 or ending_ar <= 0 then 0
                when sales_before + back_sales <= ending_ar then back_days
                when sales_before < ending_ar
                    then cast(ending_ar - sales_before as double) / cast(back_sales as double) * back_days
                else 0
            end) as countback_dso
    from walked
    group by dimension, dimension_value, period
),

with_history as (
    select
        inputs.*,
        -- Null before the history starts: CEI is not defined without a beginning balance.
        lag(ending_ar) over (partition by dimension, dimension_value order by period) as beginning_ar,
        lag(ending_ar, 3) over (partition by dimension, dimension_value order by period) as beginning_ar_3m,
        sum(credit_sales) over (partition by dimension, dimension_value order by period
                                rows between 2 preceding and current row) as credit_sales_3m
    from inputs
),

final as (
    select
        with_history.dimension,
        with_history.dimension_value,
        with_history.period,
        with_history.days_in_period,
        with_history.beginning_ar,
        with_history.ending_ar,
        with_history.ending_current_ar,
        {{ money('with_history.ending_ar - with_history.ending_current_ar') }} as ending_past_due_ar,
        with_history.credit_sales,
        with_history.cash_applied,
        with_history.write_offs,
        round({{ simple_dso('with_history.ending_ar', 'with_history.credit_sales', 'with_history.days_in_period') }}, 1)
            as simple_dso_days,
        round(countback.countback_dso, 1) as countback_dso_days,
        round({{ best_possible_dso('with_history.ending_current_ar', 'with_history.credit_sales',
                                   'with_history.days_in_period') }}, 1) as best_possible_dso_days,
        round({{ simple_dso('with_history.ending_ar', 'with_history.credit_sales', 'with_history.days_in_period') }}
              - {{ best_possible_dso('with_history.ending_current_ar', 'with_history.credit_sales',
                                     'with_history.days_in_period') }}, 1) as average_days_delinquent,
        round({{ cei_pct('with_history.beginning_ar', 'with_history.credit_sales', 1, 'with_history.ending_ar',
                         'with_history.ending_current_ar') }}, 1) as cei_pct,
        round({{ cei_pct('with_history.beginning_ar_3m', 'with_history.credit_sales_3m', 3,
                         'with_history.ending_ar', 'with_history.ending_current_ar') }}, 1) as cei_3m_pct,
        round(cast(with_history.write_offs as double) / nullif(cast(with_history.credit_sales as double), 0) * 100, 2)
            as write_off_pct,
        with_history.period = cast(date_trunc('month', {{ as_of_date() }}) as date) as is_open_period
    from with_history
    left join countback
        on countback.dimension = with_history.dimension
        and countback.dimension_value = with_history.dimension_value
        and countback.period = with_history.period
)

select * from final
