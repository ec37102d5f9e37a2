{#
  On Spark the validated raw tables arrive as Parquet folders, one per table, under the folder in the
  DUNNING_SPARK_RAW variable (`dunning build --engine spark` writes them): register each source as an external
  table there. On DuckDB the raw tables are already in the warehouse file, so this does nothing.
#}
{% macro register_raw_sources() -%}
    {{ return(adapter.dispatch('register_raw_sources')()) }}
{%- endmacro %}

{% macro default__register_raw_sources() -%}
    select 1
{%- endmacro %}

{% macro spark__register_raw_sources() -%}
    {%- set root = env_var('DUNNING_SPARK_RAW', '') -%}
    {%- if execute and root -%}
        {%- set sources = graph.sources.values() | selectattr('source_name', 'equalto', 'raw') | list -%}
        {%- for schema in sources | map(attribute='schema') | unique -%}
            {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- endfor -%}
        {%- for node in sources -%}
            {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.name) -%}
            {%- do run_query('create table ' ~ node.schema ~ '.' ~ node.name ~ " using parquet location '"
                             ~ root ~ '/' ~ node.name ~ "'") -%}
        {%- endfor -%}
    {%- endif -%}
    select 1
{%- endmacro %}
