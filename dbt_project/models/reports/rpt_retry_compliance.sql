-- Network-rule violations by month, rule, gateway and card brand (from fct_payment_attempts).
with attempts as (
    select * from {{ ref('fct_payment_attempts') }}
    where is_reattempt
),

rules as (
    select attempt_period, gateway, attempt_method, card_brand, 'visa_category_1_retried' as rule
    from attempts where breaks_visa_category_1
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'visa_over_15_in_30_days'
    from attempts where breaks_visa_15_in_30
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'mastercard_do_not_retry'
    from attempts where breaks_mastercard_never
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'mastercard_wait_not_respected'
    from attempts where breaks_mastercard_wait
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'non_retryable_decline_retried'
    from attempts where retries_non_retryable_card
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'nacha_over_two_represents'
    from attempts where breaks_nacha_represent_limit
    union all
    select attempt_period, gateway, attempt_method, card_brand, 'nacha_represent_after_final_return'
    from attempts where breaks_nacha_final_return
),

reattempts as (
    select attempt_period, count(*) as reattempt_count
    from attempts
    group by attempt_period
),

final as (
    select
        rules.attempt_period,
        rules.rule,
        rules.gateway,
        rules.attempt_method,
        coalesce(rules.card_brand, 'n/a') as card_brand,
        count(*) as violation_count
    from rules
    group by 1, 2, 3, 4, 5
)

select
    final.*,
    reattempts.reattempt_count
from final
left join reattempts
    on reattempts.attempt_period = final.attempt_period
