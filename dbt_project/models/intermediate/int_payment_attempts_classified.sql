-- Every attempt with its decline classification. Lookup order: the gateway's code (Stripe, then checkout.com),
-- then the ISO 8583 response code; ACH failures by their NACHA return code. Unknown codes -> 'unmapped'.
with attempts as (
    select * from {{ ref('stg_raw__payment_attempts') }}
),

returns as (
    select * from {{ ref('stg_raw__ach_returns') }}
),

decline_codes as (
    select * from {{ ref('ref_decline_codes') }}
),

ach_codes as (
    select * from {{ ref('ref_ach_return_codes') }}
),

advice_codes as (
    select * from {{ ref('ref_merchant_advice_codes') }}
),

joined as (
    select
        attempts.*,
        -- Point in time: an ACH debit returned after the as-of date was still pending then.
        case
            when attempts.attempt_method = 'ach_debit' and attempts.outcome_at_extract = 'failed'
                and not coalesce(returns.is_known_at_as_of, true) then 'pending'
            else attempts.outcome_at_extract
        end as outcome,
        attempts.outcome_at_extract = 'failed' and coalesce(returns.is_known_at_as_of, true) as is_failed,
        case when returns.is_known_at_as_of then returns.return_code end as return_code,
        case when returns.is_known_at_as_of then returns.return_date end as return_date,
        ach_codes.nacha_category,
        ach_codes.is_reinitiation_allowed,
        ach_codes.max_reinitiations,
        coalesce(stripe.decline_family, checkout.decline_family, iso.decline_family) as card_family,
        coalesce(stripe.is_hard_decline, checkout.is_hard_decline, iso.is_hard_decline) as card_is_hard,
        coalesce(stripe.is_retry_allowed, checkout.is_retry_allowed, iso.is_retry_allowed) as card_retry_allowed,
        coalesce(stripe.retry_rule, checkout.retry_rule, iso.retry_rule) as card_retry_rule,
        coalesce(iso.visa_category, stripe.visa_category, checkout.visa_category) as visa_category,
        coalesce(stripe.resolution_path, checkout.resolution_path, iso.resolution_path) as card_resolution,
        coalesce(stripe.template_id, checkout.template_id, iso.template_id) as card_template,
        ach_codes.decline_family as ach_family,
        ach_codes.is_hard_decline as ach_is_hard,
        ach_codes.resolution_path as ach_resolution,
        ach_codes.template_id as ach_template,
        advice_codes.is_never_retry as advice_is_never_retry,
        advice_codes.min_wait_hours as advice_min_wait_hours
    from attempts
    left join returns
        on returns.attempt_id = attempts.attempt_id
    left join ach_codes
        on ach_codes.return_code = returns.return_code
        and returns.is_known_at_as_of
    left join decline_codes as stripe
        on stripe.code_system = 'stripe_decline_code'
        and stripe.code = attempts.decline_code
    left join decline_codes as checkout
        on checkout.code_system = 'checkout_com_response_code'
        and checkout.code = attempts.decline_code
    left join decline_codes as iso
        on iso.code_system = 'iso8583_response_code'
        and iso.code = attempts.response_code
    left join advice_codes
        on advice_codes.advice_code = attempts.advice_code
),

final as (
    select
        joined.*,
        case
            when outcome = 'pending' then 'pending'
            when not is_failed then 'approved'
            when attempt_method = 'ach_debit' then coalesce(ach_family, 'unmapped')
            else coalesce(card_family, 'unmapped')
        end as decline_family,
        case
            when not is_failed then false
            when attempt_method = 'ach_debit' then coalesce(ach_is_hard, false)
            else coalesce(card_is_hard or coalesce(advice_is_never_retry, false), false)
        end as is_hard_decline,
        case
            when not is_failed then false
            when attempt_method = 'ach_debit' then coalesce(is_reinitiation_allowed, false)
            else coalesce(card_retry_allowed, false) and not coalesce(advice_is_never_retry, false)
        end as is_retry_allowed,
        case
            when not is_failed then 'none'
            when attempt_method = 'ach_debit' then coalesce(ach_resolution, 'stop_and_escalate')
            else coalesce(card_resolution, 'stop_and_escalate')
        end as resolution_path,
        case
            when not is_failed then 'none'
            when attempt_method = 'ach_debit' then coalesce(ach_template, 'tpl_account_escalation')
            else coalesce(card_template, 'tpl_account_escalation')
        end as template_id,
        coalesce(invoice_id, 'account:' || account_id) as collection_key,
        coalesce(card_last4, '') || '/' || coalesce(cast(card_exp_month as string), '') || '/'
            || coalesce(cast(card_exp_year as string), '') as credential_key
    from joined
)

select * from final
