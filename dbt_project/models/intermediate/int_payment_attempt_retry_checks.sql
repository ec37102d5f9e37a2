-- Network-rule compliance of every automatic reattempt, judged against the earlier attempts on the same invoice
-- with the same credentials: Visa category 1 never retried, Visa at most 15 reattempts in 30 days, Mastercard
-- advice codes 03/21 never and 24-30 wait times, non-retryable declines never, NACHA: at most two
-- re-presentments of R01/R09 within 180 days and none after other returns.
with attempts as (
    select * from {{ ref('int_payment_attempts_classified') }}
),

pairs as (
    select
        later.attempt_id,
        later.attempt_method,
        later.card_brand,
        earlier.attempt_id as earlier_attempt_id,
        earlier.attempted_at as earlier_attempted_at,
        later.attempted_at,
        earlier.is_failed as earlier_failed,
        earlier.card_brand as earlier_brand,
        earlier.visa_category as earlier_visa_category,
        earlier.advice_is_never_retry as earlier_advice_never,
        earlier.advice_min_wait_hours as earlier_wait_hours,
        earlier.is_retry_allowed as earlier_retry_allowed,
        earlier.return_code as earlier_return_code,
        earlier.credential_key = later.credential_key as is_same_credentials
    from attempts as later
    inner join attempts as earlier
        on earlier.collection_key = later.collection_key
        and earlier.attempt_method = later.attempt_method
        and earlier.attempted_at < later.attempted_at
    where not later.is_customer_initiated
),

latest_earlier as (
    select
        attempt_id,
        earlier_failed,
        earlier_wait_hours,
        earlier_attempted_at,
        attempted_at,
        row_number() over (partition by attempt_id order by earlier_attempted_at desc, earlier_attempt_id desc)
            as recency
    from pairs
),

checks as (
    select
        attempt_id,
        max(attempt_method) as attempt_method,
        bool_or(earlier_failed) as is_reattempt,
        bool_or(earlier_failed and is_same_credentials and earlier_brand = 'visa' and earlier_visa_category = '1')
            as breaks_visa_category_1,
        sum(case
                when is_same_credentials and card_brand = 'visa'
                    and earlier_attempted_at >= {{ dbt.dateadd('day', -30, 'attempted_at') }} then 1
                else 0
            end) as visa_reattempts_in_30_days,
        bool_or(earlier_failed and is_same_credentials and coalesce(earlier_advice_never, false))
            as breaks_mastercard_never,
        bool_or(earlier_failed and is_same_credentials and not earlier_retry_allowed
                and attempt_method = 'card') as retries_non_retryable_card,
        sum(case
                when attempt_method = 'ach_debit' and earlier_return_code in ('R01', 'R09')
                    and earlier_attempted_at >= {{ dbt.dateadd('day', -180, 'attempted_at') }} then 1
                else 0
            end) as ach_prior_returns_180_days,
        bool_or(attempt_method = 'ach_debit' and earlier_return_code is not null
                and earlier_return_code not in ('R01', 'R09')) as represents_after_final_return
    from pairs
    group by attempt_id
),

waits as (
    select
        attempt_id,
        earlier_failed
            and earlier_wait_hours > 0
            and {{ elapsed_hours('earlier_attempted_at', 'attempted_at') }} < earlier_wait_hours
            as breaks_mastercard_wait
    from latest_earlier
    where recency = 1
),

final as (
    select
        checks.attempt_id,
        checks.is_reattempt,
        checks.breaks_visa_category_1,
        checks.visa_reattempts_in_30_days > 15 as breaks_visa_15_in_30,
        checks.breaks_mastercard_never,
        coalesce(waits.breaks_mastercard_wait, false) as breaks_mastercard_wait,
        checks.retries_non_retryable_card,
        checks.ach_prior_returns_180_days > 2 as breaks_nacha_represent_limit,
        checks.represents_after_final_return as breaks_nacha_final_return,
        cast(checks.visa_reattempts_in_30_days as bigint) as visa_reattempts_in_30_days
    from checks
    left join waits
        on waits.attempt_id = checks.attempt_id
)

select * from final
