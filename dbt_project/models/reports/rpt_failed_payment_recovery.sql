-- Failed-payment recovery by cohort month of first failure, method and decline family: count and amount
-- recovered within 30 and 60 days, split by how, and time to recovery. Only cohorts old enough for a window
-- count toward that window (is_mature flags), so young cohorts never look worse than they are.
with episodes as (
    select * from {{ ref('fct_failed_payment_episodes') }}
),

final as (
    select
        failure_cohort,
        attempt_method,
        decline_family,
        count(*) as failed_count,
        {{ money('sum(failed_amount_reporting)') }} as failed_amount,
        count(*) filter (where is_mature_30d) as mature_30d_count,
        {{ money('sum(case when is_mature_30d then failed_amount_reporting else 0 end)') }} as mature_30d_amount,
        count(*) filter (where is_mature_30d and is_recovered_30d) as recovered_30d_count,
        {{ money('sum(case when is_mature_30d and is_recovered_30d then failed_amount_reporting else 0 end)') }}
            as recovered_30d_amount,
        count(*) filter (where is_mature_60d) as mature_60d_count,
        count(*) filter (where is_mature_60d and is_recovered_60d) as recovered_60d_count,
        {{ money('sum(case when is_mature_60d then failed_amount_reporting else 0 end)') }} as mature_60d_amount,
        {{ money('sum(case when is_mature_60d and is_recovered_60d then failed_amount_reporting else 0 end)') }}
            as recovered_60d_amount,
        count(*) filter (where is_mature_30d and is_recovered_30d and recovered_by = 'automatic_retry')
            as recovered_30d_by_retry_count,
        count(*) filter (where is_mature_30d and is_recovered_30d and recovered_by = 'customer_updated_payment_method')
            as recovered_30d_by_customer_update_count,
        count(*) filter (where is_mature_30d and is_recovered_30d and recovered_by = 'other_payment')
            as recovered_30d_by_other_payment_count,
        -- In doubles, rounded: a decimal literal would make Spark compute in decimals of its own scale.
        round(median(case when is_recovered then cast(hours_to_recovery as double) / 24 end), 2)
            as median_days_to_recovery
    from episodes
    group by failure_cohort, attempt_method, decline_family
)

select
    final.*,
    round(cast(recovered_30d_amount as double) / nullif(cast(mature_30d_amount as double), 0), 4)
        as recovery_rate_30d_amount,
    round(cast(recovered_30d_count as double) / nullif(cast(mature_30d_count as double), 0), 4)
        as recovery_rate_30d_count,
    round(cast(recovered_60d_amount as double) / nullif(cast(mature_60d_amount as double), 0), 4)
        as recovery_rate_60d_amount
from final
