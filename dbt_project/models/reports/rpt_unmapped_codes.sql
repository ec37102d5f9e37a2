-- Data quality: decline and return codes the classification does not know. They are kept (family 'unmapped'),
-- never dropped; add them to the seeds.
with attempts as (
    select * from {{ ref('fct_payment_attempts') }}
    where is_unmapped_code
)

select
    attempt_method,
    gateway,
    coalesce(decline_code, '(none)') as decline_code,
    coalesce(response_code, '(none)') as response_code,
    coalesce(return_code, '(none)') as return_code,
    count(*) as attempt_count,
    min(attempted_local_date) as first_seen_date,
    max(attempted_local_date) as last_seen_date
from attempts
group by 1, 2, 3, 4, 5
