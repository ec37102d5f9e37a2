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
import threading
import time
from pathlib import Path

import duckdb
import pytest

from dashboards.data import PAGE_QUERIES, Warehouse
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
def _copy_of(warehouse: Path, folder: Path) -> Path:
    target = folder / "wh" / "warehouse.duckdb"
    target.parent.mkdir()
    shutil.copy(warehouse, target)
    return target


@pytest.fixture
def previous(ingested_warehouse, tmp_path) -> Path:
    """A copy of a real warehouse, standing in for the one a new build must not damage."""
    return _copy_of(ingested_warehouse, tmp_path)


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


@pytest.fixture
def built_previous(built_warehouse, tmp_path) -> Path:
    """A copy of a complete warehouse (the session build of the small book), serving the dashboard."""
    return _copy_of(built_warehouse, tmp_path)


class DashboardReader(threading.Thread):
    """Runs every dashboard page's queries in a loop, as the app does, until stopped; records what failed."""

    def __init__(self, path: Path):
        super().__init__(daemon=True)
        self.warehouse = Warehouse(path)
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.passes: list[tuple] = []  # the file version (inode, mtime, size) each full pass ran on

    def run(self) -> None:
        while not self.stop.is_set():
            stamp = self.warehouse.stamp()
            for page, queries in PAGE_QUERIES.items():
                try:
                    queries(self.warehouse)
                except Exception as exc:  # noqa: BLE001 - any failure is what the test looks for
                    self.errors.append(f"{page}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            self.passes.append(stamp)


def test_sigkill_at_any_point_leaves_the_previous_warehouse(built_previous, built_warehouse, small_book, tmp_path,
                                                            run_console, file_digest, warehouse_digest):
    """Kill `dunning build` at random points (startup, ingest, dbt and models) while the dashboard reads the
    warehouse, then build for real: the kills never touch the warehouse, the dashboard's queries never fail
    (before, during and after the swap), the next build cleans up after the kills, and it produces exactly the
    tables of the earlier build of the same inputs (content digests of every table)."""
    previous = built_previous
    before = file_digest(previous)
    reader = DashboardReader(previous)
    reader.start()
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

    held = connect_read_only(previous)
    old_tables = held.execute("select count(*) from information_schema.tables").fetchone()[0]
    old_stamp = reader.warehouse.stamp()
    run = run_console("build", "--raw", small_book, "--warehouse", previous, cwd=tmp_path)
    assert run.exit_code == 0, run.describe()
    assert f"built {previous} as of 2026-10-" in run.stdout
    assert file_digest(previous) != before
    assert _staging_files(previous.parent) == []
    # A connection opened before the swap keeps the file it opened.
    assert held.execute("select count(*) from information_schema.tables").fetchone()[0] == old_tables
    held.close()

    deadline = time.monotonic() + 60
    while sum(stamp != old_stamp for stamp in reader.passes) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    reader.stop.set()
    reader.join(timeout=60)
    assert not reader.errors, reader.errors[:5]
    assert sum(stamp == old_stamp for stamp in reader.passes) >= 2, "the dashboard did not read during the builds"
    assert sum(stamp != old_stamp for stamp in reader.passes) >= 2, "the dashboard did not follow the swap"

    # Same inputs, same as-of date: the same contents, table by table.
    con, first = connect_read_only(previous), connect_read_only(built_warehouse)
    try:
        rebuilt, original = warehouse_digest(con), warehouse_digest(first)
    finally:
        con.close()
        first.close()
    assert len(rebuilt) > 60 and any(name.startswith("marts.") for name in rebuilt)
    differ = sorted(name for name in rebuilt.keys() | original.keys() if rebuilt.get(name) != original.get(name))
    assert not differ, f"two builds of the same inputs differ in {differ}"
