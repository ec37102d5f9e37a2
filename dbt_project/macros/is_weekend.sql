{# Saturday or Sunday (day-of-week numbering differs between engines). #}
{% macro is_weekend(day) -%}
    {{ return(adapter.dispatch('is_weekend', 'dunning_desk')(day)) }}
{%- endmacro %}

{% macro default__is_weekend(day) -%}
    dayofweek({{ day }}) in (1, 7)
{%- endmacro %}

{% macro duckdb__is_weekend(day) -%}
    isodow({{ day }}) in (6, 7)
{%- endmacro %}
