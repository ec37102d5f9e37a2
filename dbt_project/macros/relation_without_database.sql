{#
  Render ref() and source() as schema.table, without the database (catalog) name. DuckDB names a file's catalog
  after the file, and a build is written to a temporary file that is then renamed: catalog-qualified views would
  point at a catalog that no longer exists. Unqualified names resolve against whichever file is open.
#}
{% macro ref() -%}
    {%- set relation = builtins.ref(*varargs, **kwargs) -%}
    {{ return(relation.include(database=False)) }}
{%- endmacro %}

{% macro source(source_name, table_name) -%}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {{ return(relation.include(database=False)) }}
{%- endmacro %}
