-- One row per invoice open at a snapshot date (month ends and the as-of date): balance, days past due, bucket.
-- Buckets sum to open AR exactly (both come from int_ar_events).
with events as (
    select * from {{ ref('int_ar_events') }}
),

invoices as (
    select * from {{ ref('int_invoices_converted') }}
    where not is_void
),

snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

bucketed_events as (
    -- The first snapshot on or after each event is the month end of its day (or the as-of date).
    select
        invoice_id,
        least(cast(last_day(event_date) as date), {{ as_of_date() }}) as snapshot_date,
        sum(amount) as amount,
        sum(amount_reporting) as amount_reporting
    from events
    group by invoice_id, least(cast(last_day(event_date) as date), {{ as_of_date() }})
),

spans as (
    select
        invoice_id,
        min(snapshot_date) as first_snapshot,
        max(snapshot_date) as last_event_snapshot
    from bucketed_events
    group by invoice_id
),

grid as (
    -- Every snapshot from an invoice's first event; closed invoices drop out below once their balance is zero.
    select spans.invoice_id, snapshots.snapshot_date
    from spans
    inner join snapshots
        on snapshots.snapshot_date >= spans.first_snapshot
),

balances as (
    select
        grid.invoice_id,
        grid.snapshot_date,
        sum(coalesce(bucketed_events.amount, 0)) over (
            partition by grid.invoice_id order by grid.snapshot_date rows between unbounded preceding and current row
        ) as open_amount,
        sum(coalesce(bucketed_events.amount_reporting, 0)) over (
            partition by grid.invoice_id order by grid.snapshot_date rows between unbounded preceding and current row
        ) as open_amount_reporting
    from grid
    left join bucketed_events
        on bucketed_events.invoice_id = grid.invoice_id
        and bucketed_events.snapshot_date = grid.snapshot_date
),

final as (
    select
        balances.snapshot_date,
        balances.invoice_id,
        invoices.account_id,
        invoices.currency,
        invoices.due_date,
        {{ money('balances.open_amount') }} as open_amount,
        {{ money('balances.open_amount_reporting') }} as open_amount_reporting,
        cast({{ dbt.datediff('invoices.due_date', 'balances.snapshot_date', 'day') }} as bigint) as days_past_due
    from balances
    inner join invoices
        on invoices.invoice_id = balances.invoice_id
    where balances.open_amount > 0
)

select
    final.*,
    {{ aging_bucket('days_past_due') }} as aging_bucket,
    snapshot_date = {{ as_of_date() }} as is_as_of_snapshot
from final
