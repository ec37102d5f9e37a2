{# The run's as-of date, passed by the CLI; a build without it fails at compile time. #}
{% macro as_of_date() -%}
    {%- if not var('as_of_date') -%}
        {{ exceptions.raise_compiler_error("as_of_date is not set: run through `dunning build` or pass --vars '{as_of_date: YYYY-MM-DD}'") }}
    {%- endif -%}
    cast('{{ var("as_of_date") }}' as date)
{%- endmacro %}
