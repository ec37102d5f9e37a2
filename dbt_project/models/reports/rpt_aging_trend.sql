-- Open AR by snapshot date (month ends and the as-of date), aging bucket, segment and collector: amount,
-- invoices and accounts. An account has one segment and one collector, so account counts add up across
-- them. Precomputed because counting distinct accounts over every snapshot row is slow at a million accounts.
with snapshots as (
    select * from {{ ref('fct_aging_snapshots') }}
),

accounts as (
    select account_id, segment, collector from {{ ref('dim_accounts') }}
)

select
    snapshots.snapshot_date,
    snapshots.aging_bucket,
    accounts.segment,
    accounts.collector,
    bool_or(snapshots.is_as_of_snapshot) as is_as_of_snapshot,
    {{ money('sum(snapshots.open_amount_reporting)') }} as open_amount_reporting,
    count(*) as invoice_count,
    count(distinct snapshots.account_id) as account_count
from snapshots
left join accounts on accounts.account_id = snapshots.account_id
group by snapshots.snapshot_date, snapshots.aging_bucket, accounts.segment, accounts.collector
