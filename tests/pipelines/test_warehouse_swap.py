"""Atomic swap (pipelines.warehouse.building, `dunning build`): a build that fails or is killed at any point
leaves the previous warehouse byte-identical and readable; a build that succeeds replaces it, under the feet of
readers that keep reading the file they opened."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipelines.warehouse import building, connect_read_only, staging_path


def _write_version(path: Path, version: int, rows: int = 1000) -> None:
    con = duckdb.connect(str(path))
    con.execute("create table v as select ? as version", [version])
    con.execute("create table big as select range as i, ? as version from range(?)", [version, rows])
    con.close()


def _make_warehouse(target: Path, version: int, rows: int = 1000) -> None:
    with building(target) as tmp:
        _write_version(tmp, version, rows)


def _version(path: Path) -> int:
    con = connect_read_only(path)
    try:
        return con.execute("select version from v").fetchone()[0]
    finally:
        con.close()


def _staging_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".building-" in p.name)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------------------------------- building()
def test_successful_build_replaces_the_warehouse(tmp_path):
    target = tmp_path / "warehouse.duckdb"
    _make_warehouse(target, 1)
    _make_warehouse(target, 2)
    assert _version(target) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["warehouse.duckdb"]  # no staging file, no .wal


@pytest.mark.parametrize("write_first", [True, False], ids=["after writing", "before writing"])
def test_exception_inside_the_block_leaves_the_previous_warehouse(tmp_path, file_digest, write_first):
    target = tmp_path / "warehouse.duckdb"
    _make_warehouse(target, 1)
    before = file_digest(target)
    with pytest.raises(RuntimeError, match="boom"), building(target) as tmp:
        assert tmp.parent == target.parent and tmp != target
        if write_first:
            _write_version(tmp, 2)
            assert tmp.exists()
        raise RuntimeError("boom")
    assert file_digest(target) == before
    assert _version(target) == 1
    assert _staging_files(tmp_path) == []


def test_readers_keep_the_file_they_opened_while_a_build_swaps_in(tmp_path):
    target = tmp_path / "warehouse.duckdb"
    _make_warehouse(target, 1, rows=300_000)
    reader = connect_read_only(target)
    assert reader.execute("select version from v").fetchone() == (1,)
    _make_warehouse(target, 2, rows=200_000)
    # The old reader has not touched `big` yet: its pages come from the replaced file, still open.
    assert reader.execute("select count(*), min(version), max(version) from big").fetchone() == (300_000, 1, 1)
    assert reader.execute("select version from v").fetchone() == (1,)
    # New readers, in this process and in another one, see the new warehouse.
    fresh = connect_read_only(target)
    assert fresh.execute("select count(*), max(version) from big").fetchone() == (200_000, 2)
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(c.execute('select version from v').fetchone()[0])")
    other = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == "2"
    reader.close()
    fresh.close()


def test_an_instance_left_open_on_the_previous_staging_file_is_never_reused(tmp_path):
    """A library (dbt-duckdb does) may keep the staging database open after the build; DuckDB hands the same
    instance to anyone connecting to that path in this process, and after the swap it is the live warehouse."""
    target = tmp_path / "warehouse.duckdb"
    with building(target) as tmp:
        lingering = duckdb.connect(str(tmp))
        lingering.execute("create table v as select 1 as version")
    with building(target) as tmp:
        _write_version(tmp, 2)
    assert _version(target) == 2
    lingering.close()


def test_staging_names_are_unique_per_build_and_end_with_the_pid(tmp_path):
    target = tmp_path / "warehouse.duckdb"
    first, second = staging_path(target), staging_path(target)
    assert first != second
    for path in (first, second):
        assert path.parent == target.parent  # same filesystem: os.replace is atomic
        assert path.name.startswith(".warehouse.duckdb.building-")
        assert path.name.rsplit("-", 1)[1] == str(os.getpid())


def test_stale_staging_files_of_dead_builders_are_removed(tmp_path):
    target = tmp_path / "warehouse.duckdb"
    dead = _dead_pid()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [f".warehouse.duckdb.building-{token}{dead}{wal}" for token in ("", "0a1b2c3d4e5f-")
                 for wal in ("", ".wal")]
        running = [f".warehouse.duckdb.building-9f8e7d6c5b4a-{live.pid}"]
        other = [".other.duckdb.building-1"]
        for name in stale + running + other:
            (tmp_path / name).write_bytes(b"partial")
        _make_warehouse(target, 1)
        assert _staging_files(tmp_path) == sorted(running + other)
    finally:
        live.kill()
        live.wait()


# ------------------------------------------------------------------------------------------- dunning build
@pytest.fixture
def previous(ingested_warehouse, tmp_path) -> Path:
    """A copy of a real warehouse, standing in for the one a new build must not damage."""
    target = tmp_path / "wh" / "warehouse.duckdb"
    target.parent.mkdir()
    shutil.copy(ingested_warehouse, target)
    return target


def _accounts(path: Path) -> int:
    con = connect_read_only(path)
    try:
        return con.execute("select count(*) from raw.accounts").fetchone()[0]
    finally:
        con.close()


def _header_only(folder: Path, *entities: str) -> None:
    for entity in entities:
        path = folder / f"{entity}.csv"
        path.write_text(path.read_text().split("\n", 1)[0] + "\n")


FAILURES = [
    ("required file missing", lambda f: (f / "accounts.csv").unlink(), "accounts.csv: required file is missing"),
    ("load folder missing", lambda f: shutil.rmtree(f), "load folder not found"),
    # Fails after ingest wrote the staging file: nothing to build.
    ("nothing dated in the load", lambda f: _header_only(f, "invoices", "payments", "payment_attempts",
                                                          "payment_applications", "ach_returns", "disputes",
                                                          "refunds", "credit_memos", "write_offs", "cases",
                                                          "promises_to_pay", "outreach"),
     "nothing to build"),
]


@pytest.mark.parametrize(("mutate", "phrase"), [f[1:] for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_failed_build_leaves_the_previous_warehouse(previous, small_book, copy_book, tmp_path, run_cli,
                                                    file_digest, mutate, phrase):
    folder = copy_book(small_book, tmp_path / "raw")
    mutate(folder)
    before = file_digest(previous)
    run = run_cli("build", "--raw", folder, "--warehouse", previous)
    run.assert_user_error(phrase)
    assert file_digest(previous) == before
    assert _accounts(previous) == 300
    assert _staging_files(previous.parent) == []


def _wait_for_staging(folder: Path, proc: subprocess.Popen, timeout: float = 120) -> None:
    """Until the build started writing its staging file (named after its pid)."""
    deadline = time.monotonic() + timeout
    while not any(name.endswith(f"-{proc.pid}") for name in _staging_files(folder)):
        assert proc.poll() is None, f"build ended (exit {proc.returncode}) before writing its staging file"
        assert time.monotonic() < deadline, f"no staging file after {timeout} s"
        time.sleep(0.02)


def test_sigkill_at_any_point_leaves_the_previous_warehouse(previous, small_book, tmp_path, run_console,
                                                            file_digest):
    """Kill `dunning build` at random points (startup, ingest, dbt and models), then build for real while a reader
    holds the old file: the kills never touch the warehouse, and the next build cleans up after them."""
    before = file_digest(previous)
    rng = random.Random()
    # (phase, wait for the staging file first, random extra delay in seconds)
    kills = [("startup", False, rng.uniform(0.2, 0.5)), ("ingest", True, rng.uniform(0.0, 0.3)),
             ("dbt and models", True, rng.uniform(2.0, 5.0))]
    env = {**os.environ, "COLUMNS": "200", "DUNNING_REPORTS": str(tmp_path / "reports")}
    for phase, after_staging, delay in kills:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("dunning")), "build", "--raw", str(small_book),
                                 "--warehouse", str(previous)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
        if after_staging:
            _wait_for_staging(previous.parent, proc)
        time.sleep(delay)
        assert proc.poll() is None, f"build ended before the kill ({phase}, {delay:.2f} s)"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert file_digest(previous) == before, f"killed in {phase} after {delay:.2f} s"
        assert _accounts(previous) == 300
    # Each build removed the staging file of the build killed before it; the last one's is left for the next build.
    left = _staging_files(previous.parent)
    assert left and all(name.removesuffix(".wal").endswith(f"-{proc.pid}") for name in left), left

    reader = connect_read_only(previous)
    old_tables = reader.execute("select count(*) from information_schema.tables").fetchone()[0]
    run = run_console("build", "--raw", small_book, "--warehouse", previous, cwd=tmp_path)
    assert run.exit_code == 0, run.describe()
    assert f"built {previous} as of 2026-10-" in run.stdout
    assert file_digest(previous) != before
    assert _staging_files(previous.parent) == []
    # The reader still sees the warehouse it opened; a new one sees the build.
    assert reader.execute("select count(*) from information_schema.tables").fetchone()[0] == old_tables
    assert reader.execute("select count(*) from information_schema.tables where table_name = '_build_info'"
                          ).fetchone()[0] == 0
    reader.close()
    con = connect_read_only(previous)
    try:
        # the as-of default is the book's last posting day, at the end of October
        assert str(con.execute("select as_of_date from raw._build_info").fetchone()[0]).startswith("2026-10-")
        assert con.execute("select count(*) from raw.accounts").fetchone()[0] == 300
        assert con.execute("select count(*) from information_schema.tables").fetchone()[0] > old_tables
    finally:
        con.close()
