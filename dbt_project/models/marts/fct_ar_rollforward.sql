-- One row per posting period (month, close timezone) and currency:
-- opening AR + invoiced - cash applied - credits - write-offs + chargebacks = closing AR, to the cent.
with events as (
    select * from {{ ref('int_ar_events') }}
),

flows as (
    select
        posting_period,
        currency,
        sum(case when event_type = 'invoiced' then amount else 0 end) as invoiced_amount,
        sum(case when event_type = 'cash_applied' then -amount else 0 end) as cash_applied_amount,
        sum(case when event_type = 'credit' then -amount else 0 end) as credit_amount,
        sum(case when event_type = 'write_off' then -amount else 0 end) as write_off_amount,
        sum(case when event_type = 'chargeback' then amount else 0 end) as chargeback_amount,
        sum(amount) as net_change,
        sum(case when event_type = 'invoiced' then amount_reporting else 0 end) as invoiced_reporting,
        sum(case when event_type = 'cash_applied' then -amount_reporting else 0 end) as cash_applied_reporting,
        sum(case when event_type = 'credit' then -amount_reporting else 0 end) as credit_reporting,
        sum(case when event_type = 'write_off' then -amount_reporting else 0 end) as write_off_reporting,
        sum(case when event_type = 'chargeback' then amount_reporting else 0 end) as chargeback_reporting,
        sum(amount_reporting) as net_change_reporting
    from events
    group by posting_period, currency
),

rolled as (
    select
        flows.*,
        sum(net_change) over (partition by currency order by posting_period
                              rows between unbounded preceding and current row) as closing_ar,
        sum(net_change_reporting) over (partition by currency order by posting_period
                                        rows between unbounded preceding and current row) as closing_ar_reporting
    from flows
),

final as (
    select
        posting_period,
        currency,
        {{ money('closing_ar - net_change') }} as opening_ar,
        {{ money('invoiced_amount') }} as invoiced_amount,
        {{ money('cash_applied_amount') }} as cash_applied_amount,
        {{ money('credit_amount') }} as credit_amount,
        {{ money('write_off_amount') }} as write_off_amount,
        {{ money('chargeback_amount') }} as chargeback_amount,
        {{ money('closing_ar') }} as closing_ar,
        {{ money('closing_ar_reporting - net_change_reporting') }} as opening_ar_reporting,
        {{ money('invoiced_reporting') }} as invoiced_reporting,
        {{ money('cash_applied_reporting') }} as cash_applied_reporting,
        {{ money('credit_reporting') }} as credit_reporting,
        {{ money('write_off_reporting') }} as write_off_reporting,
        {{ money('chargeback_reporting') }} as chargeback_reporting,
        {{ money('closing_ar_reporting') }} as closing_ar_reporting,
        posting_period = cast(date_trunc('month', {{ as_of_date() }}) as date) as is_open_period
    from rolled
)

select * from final
