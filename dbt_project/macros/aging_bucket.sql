{# Aging bucket from days past due (from the due date): current = not yet due. #}
{% macro aging_bucket(days_past_due) -%}
    case
        when {{ days_past_due }} <= 0 then 'current'
        when {{ days_past_due }} <= 30 then '1-30'
        when {{ days_past_due }} <= 60 then '31-60'
        when {{ days_past_due }} <= 90 then '61-90'
        when {{ days_past_due }} <= 120 then '91-120'
        else '120+'
    end
{%- endmacro %}

{% macro aging_bucket_order(bucket) -%}
    case {{ bucket }}
        when 'current' then 0 when '1-30' then 1 when '31-60' then 2 when '61-90' then 3
        when '91-120' then 4 when '120+' then 5
    end
{%- endmacro %}
