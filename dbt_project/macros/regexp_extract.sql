{# First match of a regular expression, '' when none (same call on DuckDB and Spark, kept behind one name). #}
{% macro regexp_extract(expression, pattern) -%}
    {{ return(adapter.dispatch('regexp_extract', 'dunning_desk')(expression, pattern)) }}
{%- endmacro %}

{% macro default__regexp_extract(expression, pattern) -%}
    coalesce(regexp_extract({{ expression }}, '{{ pattern }}', 0), '')
{%- endmacro %}
