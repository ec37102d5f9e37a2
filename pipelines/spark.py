"""The dbt part of a build on Apache Spark (dbt-spark, session method), handed over as Parquet.

DuckDB keeps doing what it does before and after dbt (ingest and validation, the Python models, the dashboard);
Spark runs the dbt project unchanged:

  staging DuckDB file --raw.* as Parquet folders--> Spark (dbt build) --every model as Parquet--> staging file

Timestamps cross as UTC instants in microseconds (Spark cannot read nanoseconds; naive Parquet timestamps would
come back as TIMESTAMP_NTZ); Spark writes them back as TIMESTAMP_MICROS. The Spark side lives in one work folder
per build: raw/ (the handover), warehouse/ (Spark's managed tables, one Parquet folder per model).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import duckdb

from pipelines.dbt_runner import DbtRun, run_dbt

SCHEMAS = ("staging", "intermediate", "marts", "reports", "reference")
# pyspark warns about pandas 3 when imported; dbt-spark's session path does not use pandas.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)


class SparkUnavailable(RuntimeError):
    """Java or pyspark is missing: Spark cannot run on this machine."""


def check_spark() -> None:
    """Raise SparkUnavailable with what to install when Spark cannot start here."""
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError:
        raise SparkUnavailable("pyspark and dbt-spark are not installed: pip install 'dunning-desk[spark]'") from None
    java = shutil.which("java", path=os.pathsep.join(filter(None, [
        str(Path(os.environ["JAVA_HOME"]) / "bin") if os.environ.get("JAVA_HOME") else None,
        os.environ.get("PATH")])))
    if java is None:
        raise SparkUnavailable("Java is not installed: Spark needs a Java 17 runtime (apt-get install openjdk-17-jre)")
    probe = subprocess.run([java, "-version"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise SparkUnavailable(f"{java} -version failed: {probe.stderr.strip().splitlines()[:1]}")


def export_raw(con: duckdb.DuckDBPyConnection, folder: Path) -> list[str]:
    """Every raw table as a Parquet folder `folder/<table>/` (timestamps as UTC instants); returns the tables."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = [t for (t,) in con.execute(
        "select table_name from duckdb_tables() where schema_name = 'raw' and database_name = current_database() "
        "order by table_name").fetchall()]
    for table in tables:
        columns = con.execute(
            "select column_name, data_type from duckdb_columns() where schema_name = 'raw' and table_name = ? "
            "and database_name = current_database() order by column_index", [table]).fetchall()
        select = ", ".join(f'cast("{c}" as timestamptz) as "{c}"' if t == "TIMESTAMP" else f'"{c}"'
                           for c, t in columns)
        target = folder / table
        target.mkdir()
        con.execute(f"copy (select {select} from raw.\"{table}\") to '{target / 'part-0.parquet'}' "
                    "(format parquet)")
    return tables


def spark_environment(work: Path, cores: int | None = None) -> dict[str, str]:
    """Variables the spark profile and the source registration read, plus Spark's own (local only)."""
    return {
        "DUNNING_SPARK_RAW": str((work / "raw").resolve()),
        "DUNNING_SPARK_WAREHOUSE": str((work / "warehouse").resolve()),
        "DUNNING_SPARK_CORES": str(cores or os.cpu_count() or 2),
        "SPARK_LOCAL_IP": "127.0.0.1",  # never bind to a public interface
        "SPARK_CONF_DIR": str(Path(__file__).with_name("spark_conf")),  # quiet log4j2 settings
        "PYTHONWARNINGS": "ignore::FutureWarning",  # pyspark's pandas-version warning, in Spark's Python workers
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }


def model_folders(spark_warehouse: Path) -> dict[str, Path]:
    """{schema.table: Parquet folder} of every table Spark wrote (managed tables: <schema>.db/<table>/)."""
    folders = {}
    for schema in SCHEMAS:
        root = spark_warehouse / f"{schema}.db"
        if root.is_dir():
            for table in sorted(p for p in root.iterdir() if p.is_dir()):
                folders[f"{schema}.{table.name}"] = table
    return folders


def read_parquet_sql(folder: Path) -> str:
    """DuckDB SQL reading one Spark table folder, with UTC instants back to naive UTC timestamps."""
    con = duckdb.connect()
    try:
        columns = con.execute(f"describe select * from read_parquet('{folder}/*.parquet')").fetchall()
    finally:
        con.close()
    select = ", ".join(f'cast("{name}" as timestamp) as "{name}"' if kind == "TIMESTAMP WITH TIME ZONE"
                       else f'"{name}"' for name, kind, *_ in columns)
    return f"select {select} from read_parquet('{folder}/*.parquet')"


def import_models(con: duckdb.DuckDBPyConnection, spark_warehouse: Path) -> int:
    """Copy every table Spark built into the DuckDB file under the same schema.table names."""
    folders = model_folders(spark_warehouse)
    con.execute("set TimeZone = 'UTC'")
    for name, folder in folders.items():
        schema, _ = name.split(".")
        con.execute(f"create schema if not exists {schema}")
        con.execute(f"create or replace table {name} as {read_parquet_sql(folder)}")
    return len(folders)


def run_dbt_on_spark(staging_file: Path, as_of: str, work: Path) -> DbtRun:
    """Export raw/, `dbt build --target spark`, import every model into the staging DuckDB file."""
    check_spark()
    if work.exists():
        shutil.rmtree(work)
    con = duckdb.connect(str(staging_file))
    try:
        export_raw(con, work / "raw")
    finally:
        con.close()
    run = run_dbt(staging_file, as_of, target="spark", env=spark_environment(work))
    con = duckdb.connect(str(staging_file))
    try:
        import_models(con, work / "warehouse")
    finally:
        con.close()
    return run
