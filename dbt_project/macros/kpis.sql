{# Collections KPI formulas, written once (definitions: docs/kpis.md). All guard against division by zero. #}

{% macro simple_dso(ending_ar, credit_sales, days) -%}
    cast({{ ending_ar }} as double) / nullif(cast({{ credit_sales }} as double), 0) * {{ days }}
{%- endmacro %}

{% macro best_possible_dso(current_ar, credit_sales, days) -%}
    cast({{ current_ar }} as double) / nullif(cast({{ credit_sales }} as double), 0) * {{ days }}
{%- endmacro %}

{# CEI (Credit Research Foundation): N = months in the period. #}
{# Undefined (null) when the denominator is not positive: lumpy invoicing can make it tiny or negative. #}
{% macro cei_pct(beginning_ar, credit_sales, months, ending_ar, ending_current_ar) -%}
    (cast({{ beginning_ar }} as double) + cast({{ credit_sales }} as double) / {{ months }} - cast({{ ending_ar }} as double))
    / case
        when cast({{ beginning_ar }} as double) + cast({{ credit_sales }} as double) / {{ months }}
             - cast({{ ending_current_ar }} as double) > 0
            then cast({{ beginning_ar }} as double) + cast({{ credit_sales }} as double) / {{ months }}
                 - cast({{ ending_current_ar }} as double)
      end * 100
{%- endmacro %}
