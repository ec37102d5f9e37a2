-- Automatic retries after each failed-payment episode's first failure, numbered per invoice (1 = the first
-- retry), counted by the episode's method and decline family with how many succeeded. Customer-initiated
-- attempts are not retries. Precomputed because numbering every retry at query time is the slowest dashboard
-- query at a million accounts.
with retries as (
    select
        e.attempt_method,
        e.decline_family,
        a.outcome = 'succeeded' as succeeded,
        -- Cast: row_number is a bigint on DuckDB and an int on Spark.
        cast(row_number() over (partition by a.invoice_id order by a.attempted_at, a.attempt_id) as integer)
            as retry_number
    from {{ ref('fct_failed_payment_episodes') }} as e
    inner join {{ ref('fct_payment_attempts') }} as a
        on a.invoice_id = e.invoice_id
        and a.attempted_at > e.first_failed_at
        and not a.is_customer_initiated
)

select
    attempt_method,
    decline_family,
    retry_number,
    count(*) as attempt_count,
    count(*) filter (where succeeded) as succeeded_count
from retries
group by attempt_method, decline_family, retry_number
