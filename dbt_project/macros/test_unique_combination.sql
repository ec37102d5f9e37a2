{#-
    Generic data test: fails for every combination of the given columns that occurs more than once.
    Stand-in for dbt_utils.unique_combination_of_columns (dbt_utils is not a dependency of this project).

    Usage (dbt 1.11):
        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [code_system, code]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

{%- set columns_csv = combination_of_columns | join(', ') %}

select
    {{ columns_csv }},
    count(*) as n_records
from {{ model }}
group by {{ columns_csv }}
having count(*) > 1

{% endtest %}
