{# A naive UTC timestamp expressed in the company's close timezone (month-end cutoff is decided there). #}
{% macro utc_to_local(ts) -%}
    {{ return(adapter.dispatch('utc_to_local', 'dunning_desk')(ts)) }}
{%- endmacro %}

{% macro default__utc_to_local(ts) -%}
    from_utc_timestamp({{ ts }}, '{{ var("close_timezone") }}')
{%- endmacro %}

{% macro duckdb__utc_to_local(ts) -%}
    timezone('{{ var("close_timezone") }}', timezone('UTC', {{ ts }}))
{%- endmacro %}
