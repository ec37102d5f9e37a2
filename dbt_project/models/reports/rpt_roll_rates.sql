-- Roll-rate matrix between consecutive month ends: where the amount in each bucket at one month end sits at the
-- next (a later bucket, the same, back to current, paid or credited, written off). Rate = share of the amount.
-- The cure rate of a delinquent bucket is the share that ends current or paid.
with snapshots as (
    select * from {{ ref('fct_aging_snapshots') }}
    where snapshot_date = cast(last_day(snapshot_date) as date)
),

events as (
    select * from {{ ref('int_ar_events') }}
),

month_ends as (
    select
        snapshot_date,
        lead(snapshot_date) over (order by snapshot_date) as next_snapshot_date
    from (select distinct snapshot_date from snapshots) as dates
),

written_off as (
    select invoice_id, min(event_date) as written_off_date
    from events
    where event_type = 'write_off'
    group by invoice_id
),

transitions as (
    select
        month_ends.snapshot_date as from_date,
        month_ends.next_snapshot_date as to_date,
        current_state.aging_bucket as from_bucket,
        case
            when next_state.invoice_id is not null then next_state.aging_bucket
            when written_off.written_off_date <= month_ends.next_snapshot_date then 'written_off'
            else 'paid_or_credited'
        end as to_state,
        current_state.open_amount_reporting as amount
    from snapshots as current_state
    inner join month_ends
        on month_ends.snapshot_date = current_state.snapshot_date
        and month_ends.next_snapshot_date is not null
    left join snapshots as next_state
        on next_state.invoice_id = current_state.invoice_id
        and next_state.snapshot_date = month_ends.next_snapshot_date
    left join written_off
        on written_off.invoice_id = current_state.invoice_id
),

final as (
    select
        from_date,
        to_date,
        from_bucket,
        to_state,
        {{ money('sum(amount)') }} as amount,
        count(*) as invoice_count
    from transitions
    group by from_date, to_date, from_bucket, to_state
)

select
    final.*,
    round(cast(amount as double) / nullif(cast(sum(amount) over (partition by from_date, from_bucket) as double), 0), 4)
        as roll_rate,
    -- Cure rate of a delinquent bucket: the share of its amount that is current or paid a month later.
    case when from_bucket <> 'current' then round(
        cast(sum(case when to_state in ('current', 'paid_or_credited') then amount else 0 end)
             over (partition by from_date, from_bucket) as double)
        / nullif(cast(sum(amount) over (partition by from_date, from_bucket) as double), 0), 4) end as cure_rate,
    {{ aging_bucket_order('from_bucket') }} as from_bucket_order
from final
