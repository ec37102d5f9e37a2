-- Every attempt carries a decline family; a failed attempt is never 'approved' (nor 'pending'), and a succeeded
-- one is always 'approved'. Checked on the attempts mart and on the first failures of the episodes mart.
with attempts as (
    select * from {{ ref('fct_payment_attempts') }}
),

episodes as (
    select * from {{ ref('fct_failed_payment_episodes') }}
),

bad_attempts as (
    select
        'fct_payment_attempts' as model_name,
        attempt_id,
        outcome,
        decline_family
    from attempts
    where decline_family is null
        or (is_failed and decline_family in ('approved', 'pending'))
        or (outcome = 'succeeded' and decline_family <> 'approved')
),

bad_episodes as (
    select
        'fct_failed_payment_episodes' as model_name,
        first_failed_attempt_id as attempt_id,
        cast(null as string) as outcome,
        decline_family
    from episodes
    where decline_family is null
        or decline_family in ('approved', 'pending')
)

select * from bad_attempts
union all
select * from bad_episodes
