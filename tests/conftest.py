"""Shared fixtures of the data-spine tests: small generated books (made once per session) and CLI runners.

Books are generated into pytest's tmp folders and never written to: a test that changes files works on a copy
(`copy_book`). Two ways to run the command line:
  run_cli      in-process through typer's CliRunner (fast; for errors, help and commands that do not run dbt)
  run_console  the installed `dunning` console script in a subprocess (the real thing, end to end; every
               command that runs dbt goes through here so dbt's process-wide state stays out of pytest)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.generator.book import generate_book
from pipelines.generator.simulate import BookConfig

# Nearly every contract entity has rows in this book, the generator planted card numbers in its free text, and it
# is old enough for `dunning build` to train the risk model (a 5-month book fails in the worklist step).
SMALL_BOOK = BookConfig(accounts=300, months=6, seed=11)
CONSOLE_SCRIPT = Path(sys.executable).with_name("dunning")
# Wide output so rich never wraps an error line or a table cell.
CLI_ENV = {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


@dataclass
class Run:
    """The outcome of one command-line run, in-process or in a subprocess."""

    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    exception: BaseException | None = None  # an exception that escaped the command (CliRunner only)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def describe(self) -> str:
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}\n--- {self.exception!r}"

    def assert_user_error(self, *phrases: str) -> str:
        """Exit 1 with exactly one `error:` line and one `hint:` line, no traceback; returns the error line."""
        assert self.exit_code == 1, self.describe()
        assert self.exception is None, self.describe()
        assert "Traceback" not in self.output, self.describe()
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        assert len(lines) == 2, self.describe()
        assert lines[0].startswith("error: "), self.describe()
        assert lines[1].startswith("hint: "), self.describe()
        for phrase in phrases:
            assert phrase in lines[0], f"{phrase!r} not in the error line\n{self.describe()}"
        return lines[0]


def _run_cli(*args, env: dict[str, str] | None = None) -> Run:
    started = time.perf_counter()
    result = CliRunner().invoke(app, [str(a) for a in args], env={**CLI_ENV, **(env or {})})
    escaped = None if result.exception is None or isinstance(result.exception, SystemExit) else result.exception
    return Run(result.exit_code, result.stdout, result.stderr, time.perf_counter() - started, escaped)


def _run_console(*args, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900) -> Run:
    assert CONSOLE_SCRIPT.exists(), f"console script not installed at {CONSOLE_SCRIPT}"
    # Reports and anything else written relative to the working folder stay in the test's folder.
    env = {**os.environ, **CLI_ENV, "DUNNING_REPORTS": str(Path(cwd) / "reports"), **(env or {})}
    started = time.perf_counter()
    proc = subprocess.run([str(CONSOLE_SCRIPT), *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.perf_counter() - started)


@pytest.fixture(scope="session")
def run_cli():
    """run_cli(*args, env=None) -> Run: `dunning ...` in-process (typer CliRunner)."""
    return _run_cli


@pytest.fixture(scope="session")
def run_console():
    """run_console(*args, cwd, env=None, timeout=900) -> Run: the real `dunning` script in a subprocess, run in
    `cwd` with DUNNING_REPORTS pointing into it."""
    return _run_console


def _copy_book(src: Path, dst: Path, truth: bool = False) -> Path:
    shutil.copytree(src, dst, ignore=None if truth else shutil.ignore_patterns("truth"))
    return dst


@pytest.fixture(scope="session")
def copy_book():
    """copy_book(src, dst, truth=False) -> dst: a writable copy of a load folder (truth/ left out by default)."""
    return _copy_book


@pytest.fixture(scope="session")
def small_book(tmp_path_factory) -> Path:
    """SMALL_BOOK as CSV. Read-only: copy it before changing anything."""
    out = tmp_path_factory.mktemp("small_book") / "raw"
    generate_book(out, SMALL_BOOK, "csv")
    return out


@pytest.fixture(scope="session")
def small_book_parquet(tmp_path_factory) -> Path:
    """SMALL_BOOK as Parquet (same seed, so the same book). Read-only."""
    out = tmp_path_factory.mktemp("small_book_parquet") / "raw"
    generate_book(out, SMALL_BOOK, "parquet")
    return out


@pytest.fixture(scope="session")
def ingested_warehouse(small_book, tmp_path_factory) -> Path:
    """A warehouse made by `dunning ingest` of the small book (raw schema only, no dbt). Read-only: copy it."""
    target = tmp_path_factory.mktemp("ingested") / "warehouse.duckdb"
    run = _run_cli("ingest", "--raw", small_book, "--warehouse", target)
    assert run.exit_code == 0, run.describe()
    return target


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def file_digest():
    """file_digest(path) -> sha256 hex of the file's bytes."""
    return sha256_file


def _warehouse_digest(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """{schema.table: sha256 of its rows, sorted} for every table of every schema: equal digests, equal contents."""
    tables = con.execute("""
        select table_schema, table_name from information_schema.tables
        where table_type = 'BASE TABLE' and table_catalog = current_database()
        order by all""").fetchall()
    digests = {}
    for schema, table in tables:
        rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
        digests[f"{schema}.{table}"] = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
    return digests


@pytest.fixture(scope="session")
def warehouse_digest():
    """warehouse_digest(con) -> {schema.table: digest of its sorted rows}."""
    return _warehouse_digest


def _text_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every VARCHAR column of every table and view in the current database."""
    return con.execute("""
        select table_schema, table_name, column_name from information_schema.columns
        where data_type = 'VARCHAR' and table_catalog = current_database() order by all""").fetchall()


@pytest.fixture(scope="session")
def text_columns():
    """text_columns(con) -> [(schema, table, column)] of every VARCHAR column in the warehouse."""
    return _text_columns


def read_text_frame(path: Path) -> pd.DataFrame:
    """A contract CSV as the user wrote it: every value a string, empty fields as ''."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def read_frame():
    """read_frame(path) -> DataFrame of strings (empty fields are '')."""
    return read_text_frame


_FULL_BUILD = """
import sys
from pathlib import Path
from pipelines.build import run_build
from pipelines.generator.book import generate_book
from pipelines.generator.simulate import BookConfig

raw, warehouse, reports, accounts, months, seed = sys.argv[1:7]
generate_book(Path(raw), BookConfig(accounts=int(accounts), months=int(months), seed=int(seed)), "csv")
run_build(Path(raw), Path(warehouse), reports_dir=Path(reports))
"""


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory) -> Path:
    """A complete warehouse (every build step) of SMALL_BOOK, built once per session in a child process so dbt's
    process-wide state stays out of pytest. Shared by the app, data-quality and notebook tests. Read-only."""
    import subprocess
    import sys

    folder = tmp_path_factory.mktemp("built_warehouse")
    warehouse = folder / "warehouse.duckdb"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}
    proc = subprocess.run([sys.executable, "-c", _FULL_BUILD, str(folder / "raw"), str(warehouse),
                           str(folder / "reports"), str(SMALL_BOOK.accounts), str(SMALL_BOOK.months),
                           str(SMALL_BOOK.seed)], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).resolve().parents[1], timeout=900)
    assert proc.returncode == 0, f"fixture build failed\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert warehouse.exists(), f"the fixture build exited without a warehouse\n{proc.stderr[-3000:]}"
    return warehouse
