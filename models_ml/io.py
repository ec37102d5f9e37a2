"""The only module in models_ml that reads or writes the warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd


def connect(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path), read_only=read_only)
    con.execute("set TimeZone = 'UTC'")
    return con


def read_frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def read_other_warehouse(path: Path, sql: str, params: list | None = None) -> pd.DataFrame:
    """A query on another warehouse file, opened read-only in a fresh in-memory database (never this process's
    cached instance of that path); ValueError when the file is not a readable warehouse or lacks a table."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{str(path).replace(chr(39), chr(39) * 2)}' as other (read_only)")
        con.execute("use other")
        return con.execute(sql, params or []).df()
    except (duckdb.Error, OSError) as exc:
        raise ValueError(f"{path}: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def register_dates(con: duckdb.DuckDBPyConnection, name: str, dates: list) -> None:
    """A temp table `name(snapshot_date date)` to join features against."""
    frame = pd.DataFrame({"snapshot_date": pd.to_datetime(pd.Series(dates)).dt.date})
    con.register("_dates_frame", frame)
    con.execute(f"create or replace temp table {name} as select cast(snapshot_date as date) as snapshot_date "
                "from _dates_frame")
    con.unregister("_dates_frame")


def write_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, frame: pd.DataFrame) -> None:
    """Create or replace schema.table with the frame's content (rows in the frame's order)."""
    con.execute(f"create schema if not exists {schema}")
    con.register("_frame", frame)
    con.execute(f"create or replace table {schema}.{table} as select * from _frame")
    con.unregister("_frame")


def build_as_of(con: duckdb.DuckDBPyConnection) -> str:
    """The as-of date (YYYY-MM-DD) the warehouse was built for."""
    return str(con.execute("select as_of_date from raw._build_info").fetchone()[0])[:10]


def table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0
