-- At every snapshot date the aging buckets add up to open AR, recomputed here independently from the ledger:
-- per invoice, the sum of int_ar_events dated on or before the snapshot date, keeping positive balances only.
-- Returns the snapshot dates where the two differ (amount, reporting amount or invoice count).
with snapshots as (
    select * from {{ ref('int_snapshot_dates') }}
),

events as (
    select * from {{ ref('int_ar_events') }}
),

aging as (
    select * from {{ ref('fct_aging_snapshots') }}
),

by_bucket as (
    select
        snapshot_date,
        aging_bucket,
        sum(open_amount) as open_amount,
        sum(open_amount_reporting) as open_amount_reporting,
        count(*) as invoice_count
    from aging
    group by snapshot_date, aging_bucket
),

bucket_totals as (
    select
        snapshot_date,
        cast(sum(open_amount) as decimal(18,2)) as open_amount,
        cast(sum(open_amount_reporting) as decimal(18,2)) as open_amount_reporting,
        cast(sum(invoice_count) as bigint) as invoice_count
    from by_bucket
    group by snapshot_date
),

invoice_balances as (
    select
        snapshots.snapshot_date,
        events.invoice_id,
        sum(events.amount) as open_amount,
        sum(events.amount_reporting) as open_amount_reporting
    from snapshots
    inner join events
        on events.event_date <= snapshots.snapshot_date
    group by snapshots.snapshot_date, events.invoice_id
),

ledger_totals as (
    select
        snapshot_date,
        cast(sum(open_amount) as decimal(18,2)) as open_amount,
        cast(sum(open_amount_reporting) as decimal(18,2)) as open_amount_reporting,
        cast(count(*) as bigint) as invoice_count
    from invoice_balances
    where open_amount > 0
    group by snapshot_date
),

compared as (
    select
        snapshots.snapshot_date,
        coalesce(bucket_totals.open_amount, 0) as bucket_open_amount,
        coalesce(ledger_totals.open_amount, 0) as ledger_open_amount,
        coalesce(bucket_totals.open_amount_reporting, 0) as bucket_open_amount_reporting,
        coalesce(ledger_totals.open_amount_reporting, 0) as ledger_open_amount_reporting,
        coalesce(bucket_totals.invoice_count, 0) as bucket_invoice_count,
        coalesce(ledger_totals.invoice_count, 0) as ledger_invoice_count
    from snapshots
    left join bucket_totals
        on bucket_totals.snapshot_date = snapshots.snapshot_date
    left join ledger_totals
        on ledger_totals.snapshot_date = snapshots.snapshot_date
)

select *
from compared
where bucket_open_amount <> ledger_open_amount
    or bucket_open_amount_reporting <> ledger_open_amount_reporting
    or bucket_invoice_count <> ledger_invoice_count
