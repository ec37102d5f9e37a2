"""The `dunning` command line: help with examples, the realism report, the demo end to end, and errors that are
one line plus a hint, never a traceback."""

from __future__ import annotations

import time
import warnings

import duckdb
import pytest
import typer.main

from data_quality.pan import scan_frame_for_pans
from pipelines.cli import app
from pipelines.contract import load_contract
from pipelines.generator.realism import read_book, realism_stats

CONTRACT = load_contract()
DEMO_SECONDS = 30


def _command_paths(group, prefix=()) -> list[tuple[str, ...]]:
    paths = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        paths += _command_paths(command, path) if hasattr(command, "commands") else [path]
    return paths


COMMANDS = _command_paths(typer.main.get_command(app))


# ------------------------------------------------------------------------------------------- help
def test_every_command_is_listed():
    assert {p[0] for p in COMMANDS} >= {"generate", "inspect", "ingest", "build", "demo"}


def test_top_level_help_has_an_example(run_cli):
    run = run_cli("--help")
    assert run.exit_code == 0, run.describe()
    assert "Example:" in run.stdout


def test_top_level_help_lists_the_commands(run_cli):
    run = run_cli("--help")
    assert run.exit_code == 0, run.describe()
    for path in COMMANDS:
        assert path[0] in run.stdout


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_help_has_an_example(run_cli, command):
    run = run_cli(*command, "--help")
    assert run.exit_code == 0, run.describe()
    assert "Example:" in run.stdout, run.stdout
    example = run.stdout.split("Example:", 1)[1]
    assert f"dunning {' '.join(command)}" in " ".join(example.split()), "the example does not run this command"


# ------------------------------------------------------------------------------------------- generate, ingest
def test_generate_report_prints_the_bands_table(run_cli, tmp_path):
    out = tmp_path / "book"
    run = run_cli("generate", "--out", out, "--accounts", 150, "--months", 3, "--seed", 5, "--report")
    assert run.exit_code == 0, run.describe()
    assert {p.name for p in out.glob("*.csv")} == {f"{e}.csv" for e in CONTRACT.entity_names}
    stats = realism_stats(read_book(out))
    for header in ("statistic", "value", "target band", "source"):
        assert header in run.stdout
    for s in stats:
        assert s.name in run.stdout, s.name
        assert f"{s.low:g} - {s.high:g}" in run.stdout
    assert f"{sum(s.ok for s in stats)} of {len(stats)} statistics inside their bands" in run.stdout


def test_generate_parquet(run_cli, tmp_path):
    run = run_cli("generate", "--out", tmp_path / "book", "--accounts", 150, "--months", 3, "--seed", 5,
                  "--format", "parquet")
    assert run.exit_code == 0, run.describe()
    assert {p.name for p in (tmp_path / "book").glob("*.parquet")} == {
        f"{e}.parquet" for e in CONTRACT.entity_names}


def test_ingest_prints_one_line_per_file_and_writes_the_warehouse(run_cli, small_book, tmp_path):
    target = tmp_path / "warehouse.duckdb"
    run = run_cli("ingest", "--raw", small_book, "--warehouse", target)
    assert run.exit_code == 0, run.describe()
    for entity in CONTRACT.entity_names:
        assert f"{entity}.csv" in run.stdout
    assert "cards masked" in run.stdout
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("select count(*) from raw._load_audit").fetchone()[0] == len(CONTRACT.entities)
        assert con.execute("select sum(rows_quarantined) from raw._load_audit").fetchone()[0] == 0
    finally:
        con.close()


# ------------------------------------------------------------------------------------------- demo
@pytest.fixture(scope="module")
def demo(tmp_path_factory, run_console):
    """`dunning demo --no-serve` pointed at a tmp folder (Settings read DUNNING_* at import: a subprocess)."""
    root = tmp_path_factory.mktemp("demo")
    env = {"DUNNING_DEMO_DIR": str(root / "raw"), "DUNNING_WAREHOUSE": str(root / "build" / "warehouse.duckdb"),
           "DUNNING_REPORTS": str(root / "reports")}
    started = time.perf_counter()
    run = run_console("demo", "--no-serve", env=env, cwd=root)
    return root, run, time.perf_counter() - started


def test_demo_builds_the_warehouse_in_the_configured_folders(demo):
    root, run, seconds = demo
    assert run.exit_code == 0, run.describe()
    if seconds > DEMO_SECONDS:
        warnings.warn(f"dunning demo --no-serve took {seconds:.0f} s (> {DEMO_SECONDS} s)", stacklevel=1)
    assert {p.name for p in (root / "raw").glob("*.csv")} == {f"{e}.csv" for e in CONTRACT.entity_names}
    assert (root / "raw" / "truth").is_dir()
    warehouse = root / "build" / "warehouse.duckdb"
    assert f"built {warehouse}" in run.stdout
    assert [p.name for p in warehouse.parent.iterdir()] == ["warehouse.duckdb"]
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        assert con.execute("select count(*) from raw.accounts").fetchone()[0] == 2000
        assert con.execute("select sum(rows_quarantined) from raw._load_audit").fetchone()[0] == 0
        assert con.execute("select count(*) from raw._build_info").fetchone()[0] == 1
    finally:
        con.close()


def test_demo_warehouse_has_no_card_numbers_in_any_schema(demo, text_columns):
    """The demo book has pasted card numbers in its free text: masked on ingest and never rebuilt by a model."""
    root, run, _ = demo
    assert run.exit_code == 0, run.describe()
    con = duckdb.connect(str(root / "build" / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("select sum(pans_masked) from raw._pan_mask_audit").fetchone()[0] > 50
        columns = text_columns(con)
        assert len({schema for schema, _, _ in columns}) > 1, "only one schema: did dbt run?"
        for schema, table, column in columns:
            frame = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').df()
            assert not scan_frame_for_pans(frame), f"card number in {schema}.{table}.{column}"
    finally:
        con.close()


# ------------------------------------------------------------------------------------------- errors
ERRORS = [
    ("build: load folder not found", ["build", "--raw", "{tmp}/no_such_folder", "--warehouse", "{tmp}/w.duckdb"],
     ["no_such_folder", "load folder not found"]),
    ("build: bad --as-of", ["build", "--raw", "{book}", "--warehouse", "{tmp}/w.duckdb", "--as-of", "31/10/2026"],
     ["--as-of", "'31/10/2026'", "is not a date"]),
    ("ingest: bad --as-of", ["ingest", "--raw", "{book}", "--warehouse", "{tmp}/w.duckdb", "--as-of", "soon"],
     ["'soon'", "is not a date"]),
    ("ingest: required file missing", ["ingest", "--raw", "{tmp}", "--warehouse", "{tmp}/w.duckdb"],
     ["accounts.csv", "required file is missing"]),
    ("generate: unknown format", ["generate", "--out", "{tmp}/book", "--format", "xml"], ["'xml'"]),
    ("inspect: no book in the folder", ["inspect", "{tmp}"], []),
]


@pytest.mark.parametrize(("args", "phrases"), [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_are_one_line_and_a_hint(run_cli, small_book, tmp_path, args, phrases):
    args = [a.format(tmp=tmp_path, book=small_book) for a in args]
    run_cli(*args).assert_user_error(*phrases)
    assert not (tmp_path / "w.duckdb").exists()
    assert not list(tmp_path.glob(".*building*"))


def test_console_script_errors_are_one_line_and_a_hint(run_console, small_book, tmp_path):
    """The installed script, not the test runner: exit code 1 and no traceback on the real stderr."""
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "manifest.json").write_text("{")
    run = run_console("build", "--raw", tmp_path / "raw", "--warehouse", tmp_path / "w.duckdb", cwd=tmp_path)
    run.assert_user_error("manifest.json", "not valid JSON")
    assert run.stdout == ""


@pytest.mark.parametrize("folder", ["exports [old]", "exports [/old]"])
def test_error_messages_are_printed_verbatim(run_cli, tmp_path, folder):
    missing = tmp_path / folder
    run_cli("build", "--raw", missing, "--warehouse", tmp_path / "w.duckdb").assert_user_error(str(missing))


def test_inspect_names_the_folder_without_a_book(run_cli, tmp_path):
    run_cli("inspect", tmp_path).assert_user_error(str(tmp_path))


def test_unknown_option_is_a_usage_error_without_traceback(run_cli):
    run = run_cli("build", "--no-such-option")
    assert run.exit_code == 2, run.describe()
    assert "No such option" in run.output and "Traceback" not in run.output
