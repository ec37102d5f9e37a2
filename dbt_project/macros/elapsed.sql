{#
  Whole hours or minutes elapsed from `start` to `end` (rounded down), the same on every engine.
  dbt.datediff(..., 'hour') counts hour boundaries crossed on DuckDB (09:59 -> 10:01 is one hour) but rounds
  elapsed time up on Spark; differences in whole seconds agree on both, so everything is derived from them.
#}
{% macro elapsed_hours(start, end) -%}
    cast(floor({{ dbt.datediff(start, end, 'second') }} / 3600) as bigint)
{%- endmacro %}

{% macro elapsed_minutes(start, end) -%}
    cast(floor({{ dbt.datediff(start, end, 'second') }} / 60) as bigint)
{%- endmacro %}
