-- One row per card or ACH debit attempt: classified decline, sequence on its invoice, network-rule compliance.
with attempts as (
    select * from {{ ref('int_payment_attempts_classified') }}
),

checks as (
    select * from {{ ref('int_payment_attempt_retry_checks') }}
),

rates as (
    select * from {{ ref('int_fx_rates_valid') }}
),

final as (
    select
        attempts.attempt_id,
        attempts.invoice_id,
        attempts.account_id,
        attempts.attempted_at,
        attempts.attempted_local_date,
        cast(date_trunc('month', attempts.attempted_local_date) as date) as attempt_period,
        attempts.attempt_amount,
        {{ money('attempts.attempt_amount * coalesce(rates.rate_to_reporting, 1)') }} as attempt_amount_reporting,
        attempts.currency,
        attempts.attempt_method,
        attempts.outcome,
        attempts.is_failed,
        attempts.decline_code,
        attempts.response_code,
        attempts.advice_code,
        attempts.return_code,
        attempts.nacha_category,
        attempts.card_brand,
        attempts.card_last4,
        attempts.card_expires_on,
        attempts.attempt_number,
        cast(row_number() over (partition by attempts.collection_key order by attempts.attempted_at, attempts.attempt_id)
            as bigint) as attempt_sequence,
        attempts.is_customer_initiated,
        attempts.gateway,
        attempts.decline_family,
        attempts.decline_family = 'unmapped' as is_unmapped_code,
        attempts.is_hard_decline,
        attempts.is_retry_allowed,
        attempts.visa_category,
        attempts.resolution_path,
        attempts.template_id,
        coalesce(checks.is_reattempt, false) as is_reattempt,
        coalesce(checks.breaks_visa_category_1, false) as breaks_visa_category_1,
        coalesce(checks.breaks_visa_15_in_30, false) as breaks_visa_15_in_30,
        coalesce(checks.breaks_mastercard_never, false) as breaks_mastercard_never,
        coalesce(checks.breaks_mastercard_wait, false) as breaks_mastercard_wait,
        coalesce(checks.retries_non_retryable_card, false) as retries_non_retryable_card,
        coalesce(checks.breaks_nacha_represent_limit, false) as breaks_nacha_represent_limit,
        coalesce(checks.breaks_nacha_final_return, false) as breaks_nacha_final_return
    from attempts
    left join checks
        on checks.attempt_id = attempts.attempt_id
    left join rates
        on rates.currency = attempts.currency
        and attempts.attempted_local_date between rates.valid_from and rates.valid_to
)

select
    *,
    not (breaks_visa_category_1 or breaks_visa_15_in_30 or breaks_mastercard_never or breaks_mastercard_wait
         or retries_non_retryable_card or breaks_nacha_represent_limit or breaks_nacha_final_return)
        as is_network_compliant
from final
