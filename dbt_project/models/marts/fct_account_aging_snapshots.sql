-- One row per account with open AR at a snapshot date (month ends and the as-of date): its open balance by
-- aging bucket (gross: unapplied cash and open credits are not netted; see docs/kpis.md), reporting currency.
with snapshots as (
    select * from {{ ref('fct_aging_snapshots') }}
),

accounts as (
    select * from {{ ref('dim_accounts') }}
),

final as (
    select
        snapshots.snapshot_date,
        snapshots.account_id,
        accounts.segment,
        accounts.collector,
        {{ money("sum(snapshots.open_amount_reporting)") }} as open_amount_reporting,
        {{ money("sum(case when snapshots.aging_bucket = 'current' then snapshots.open_amount_reporting else 0 end)") }}
            as current_amount,
        {{ money("sum(case when snapshots.aging_bucket = '1-30' then snapshots.open_amount_reporting else 0 end)") }}
            as past_due_1_30_amount,
        {{ money("sum(case when snapshots.aging_bucket = '31-60' then snapshots.open_amount_reporting else 0 end)") }}
            as past_due_31_60_amount,
        {{ money("sum(case when snapshots.aging_bucket = '61-90' then snapshots.open_amount_reporting else 0 end)") }}
            as past_due_61_90_amount,
        {{ money("sum(case when snapshots.aging_bucket = '91-120' then snapshots.open_amount_reporting else 0 end)") }}
            as past_due_91_120_amount,
        {{ money("sum(case when snapshots.aging_bucket = '120+' then snapshots.open_amount_reporting else 0 end)") }}
            as past_due_120_plus_amount,
        cast(max(snapshots.days_past_due) as bigint) as max_days_past_due,
        cast(count(*) as bigint) as open_invoice_count,
        bool_or(snapshots.is_as_of_snapshot) as is_as_of_snapshot
    from snapshots
    inner join accounts
        on accounts.account_id = snapshots.account_id
    group by snapshots.snapshot_date, snapshots.account_id, accounts.segment, accounts.collector
)

select * from final
