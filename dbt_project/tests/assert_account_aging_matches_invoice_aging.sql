-- Account-level aging is the invoice-level aging summed: bucket columns add up to the account's open AR, and
-- every snapshot's account total equals its invoice total.
with accounts as (
    select * from {{ ref('fct_account_aging_snapshots') }}
),

invoices as (
    select snapshot_date, sum(open_amount_reporting) as invoice_total
    from {{ ref('fct_aging_snapshots') }}
    group by snapshot_date
),

account_totals as (
    select snapshot_date, sum(open_amount_reporting) as account_total
    from accounts
    group by snapshot_date
)

select accounts.snapshot_date, accounts.account_id
from accounts
where current_amount + past_due_1_30_amount + past_due_31_60_amount + past_due_61_90_amount
      + past_due_91_120_amount + past_due_120_plus_amount <> open_amount_reporting
union all
select account_totals.snapshot_date, 'total'
from account_totals
inner join invoices
    on invoices.snapshot_date = account_totals.snapshot_date
where account_totals.account_total <> invoices.invoice_total
