{# Money is decimal(18,2) everywhere: engines widen sums and products differently. #}
{% macro money(expression) -%}
    cast({{ expression }} as decimal(18,2))
{%- endmacro %}
