{# One row per day from start to end inclusive, column date_day. #}
{% macro date_spine(start_date, end_date) -%}
    {{ return(adapter.dispatch('date_spine', 'dunning_desk')(start_date, end_date)) }}
{%- endmacro %}

{% macro default__date_spine(start_date, end_date) -%}
    select explode(sequence({{ start_date }}, {{ end_date }}, interval 1 day)) as date_day
{%- endmacro %}

{% macro duckdb__date_spine(start_date, end_date) -%}
    select cast(range as date) as date_day
    from range(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp) + interval 1 day, interval 1 day)
{%- endmacro %}
