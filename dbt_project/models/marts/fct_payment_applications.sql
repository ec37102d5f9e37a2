-- One row per cash application, with the misapplication checks a cash-application team runs.
with applications as (
    select * from {{ ref('stg_raw__payment_applications') }}
),

payments as (
    select * from {{ ref('stg_raw__payments') }}
),

invoices as (
    select * from {{ ref('stg_raw__invoices') }}
),

final as (
    select
        applications.application_id,
        applications.payment_id,
        applications.invoice_id,
        payments.account_id as payment_account_id,
        invoices.account_id as invoice_account_id,
        applications.applied_amount,
        applications.applied_at,
        applications.applied_local_date,
        applications.posting_period,
        payments.effective_date,
        cast({{ dbt.datediff('payments.effective_date', 'applications.applied_local_date', 'day') }} as bigint)
            as days_to_apply,
        referenced.invoice_id as remittance_invoice_id,
        invoices.invoice_id is null as is_unknown_invoice,
        coalesce(invoices.is_void, false) as is_applied_to_void,
        invoices.account_id <> payments.account_id as is_other_account
    from applications
    left join payments
        on payments.payment_id = applications.payment_id
    left join invoices
        on invoices.invoice_id = applications.invoice_id
    -- An invoice number quoted in the remittance text (pattern configurable per team) that really exists.
    left join invoices as referenced
        on referenced.invoice_id = {{ regexp_extract('payments.reference_text', var('remittance_invoice_pattern')) }}
)

select
    *,
    (remittance_invoice_id is not null and remittance_invoice_id <> invoice_id)
        or is_other_account or is_applied_to_void as is_misapplied
from final
