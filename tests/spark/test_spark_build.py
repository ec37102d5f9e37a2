"""The same warehouse on Apache Spark: `dunning build --engine spark` runs every model, seed, data test, unit test
and contract of the dbt project on Spark (local session), and its Parquet output equals the DuckDB build of the
same inputs, table by table (EXCEPT ALL both ways, same columns and types).

Skipped with the reason only where Java or pyspark is missing (`make setup` installs pyspark and dbt-spark; Java
17 comes with the machine). Never run these in parallel workers: one Spark JVM wants both cores.
"""

from __future__ import annotations

import duckdb
import pytest

from pipelines.build import spark_work_dir
from pipelines.spark import SparkUnavailable, check_spark, model_folders, read_parquet_sql

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_without_java_the_error_says_what_to_install(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(SparkUnavailable, match="Java 17"):
        check_spark()


def _spark_missing() -> str | None:
    try:
        check_spark()
    except SparkUnavailable as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def spark_build(small_book, tmp_path_factory, run_console):
    """`dunning build --engine spark` of the small book: (warehouse file, Spark work folder, the run)."""
    missing = _spark_missing()
    if missing:
        pytest.skip(f"Spark tests need Java and pyspark: {missing}")
    root = tmp_path_factory.mktemp("spark_build")
    warehouse = root / "warehouse.duckdb"
    run = run_console("build", "--raw", small_book, "--warehouse", warehouse, "--engine", "spark", cwd=root,
                      timeout=1800)
    assert run.exit_code == 0, run.describe()
    return warehouse, spark_work_dir(warehouse), run


def test_every_node_passes_on_spark(spark_build):
    _, work, run = spark_build
    line = next(line for line in run.stdout.splitlines() if line.startswith("dbt on spark:"))
    passed, total = (int(n) for n in line.split(":")[1].split("nodes")[0].split(" of "))
    assert passed == total > 300, line
    assert "models" in line and "seeds" in line and "data tests" in line and "unit tests" in line, line
    assert "Traceback" not in run.output


def test_every_model_built_on_duckdb_is_built_on_spark(spark_build, built_warehouse):
    _, work, _ = spark_build
    con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        duckdb_models = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_schema in "
            "('staging', 'intermediate', 'marts', 'reports', 'reference')").fetchall()}
    finally:
        con.close()
    assert len(duckdb_models) > 40
    assert set(model_folders(work / "warehouse")) == duckdb_models


def test_spark_output_equals_the_duckdb_build(spark_build, built_warehouse):
    """DuckDB reads Spark's Parquet and finds no difference from its own build of the same inputs."""
    _, work, _ = spark_build
    con = duckdb.connect(str(built_warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'")
    differences = []
    try:
        for name, folder in model_folders(work / "warehouse").items():
            spark_sql = read_parquet_sql(folder)
            ours = con.execute(f"describe {name}").fetchall()
            theirs = con.execute(f"describe {spark_sql}").fetchall()
            if [c[:2] for c in ours] != [c[:2] for c in theirs]:
                differences.append(f"{name}: columns {[c[:2] for c in ours]} != {[c[:2] for c in theirs]}")
                continue
            only_duckdb = con.execute(f"select count(*) from (select * from {name} except all {spark_sql})"
                                      ).fetchone()[0]
            only_spark = con.execute(f"select count(*) from ({spark_sql} except all select * from {name})"
                                     ).fetchone()[0]
            if only_duckdb or only_spark:
                differences.append(f"{name}: {only_duckdb} rows only on DuckDB, {only_spark} only on Spark")
    finally:
        con.close()
    assert not differences, differences


def test_the_spark_build_is_a_complete_warehouse(spark_build, built_warehouse, warehouse_digest):
    """Read back from Spark, the marts feed the same Python steps: same marts, and every output table exists."""
    warehouse, _, run = spark_build
    spark_con = duckdb.connect(str(warehouse), read_only=True)
    duck_con = duckdb.connect(str(built_warehouse), read_only=True)
    try:
        spark_tables = warehouse_digest(spark_con)
        duck_tables = warehouse_digest(duck_con)
    finally:
        spark_con.close()
        duck_con.close()
    marts = [name for name in duck_tables if name.startswith("marts.")]
    assert len(marts) > 8
    assert {name: spark_tables.get(name) for name in marts} == {name: duck_tables[name] for name in marts}
    for table in ("models.risk_scores", "models.cash_forecast", "models.worklist", "quality.validation_results"):
        assert table in spark_tables, table
    assert "built " in run.stdout


def test_a_script_without_a_file_survives_importing_great_expectations():
    """pyspark 4 calls sys.exit(0) when a process whose main module has no __file__ (python -c, a notebook
    kernel) imports Spark Connect, which great-expectations does when pyspark is installed: a silent, successful
    exit halfway through. The pinned pyspark must not."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import great_expectations.compatibility.pyspark; print('alive')"],
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout.strip() == "alive", proc.stderr[-2000:]
