"""A catalogue of malformed load folders through the command line.

Files that cannot be read stop `dunning build --raw DIR --warehouse FILE`: exit code 1, one `error:` line naming
the file (and the row or column at fault), a `hint:` line, no traceback, and the previous warehouse untouched.
Oddities a real export has (no rows, an extra column, a byte-order mark, multi-line notes) and bad rows are the
other half of the catalogue: they load or are quarantined in one full build (test_bad_rows_build.py).
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.contract import load_contract

CONTRACT = load_contract()


def _frame(folder: Path, entity: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{entity}.csv", dtype=str, keep_default_na=False)


def _write(frame: pd.DataFrame, path: Path, **kwargs) -> None:
    frame.to_csv(path, index=False, lineterminator="\n", **kwargs)


def _rows(folder: Path, entity: str) -> int:
    return len(_frame(folder, entity))


# ------------------------------------------------------------------------------------------- mutations
def empty_file(folder: Path) -> None:
    (folder / "accounts.csv").write_bytes(b"")


def missing_required_column(folder: Path) -> None:
    _write(_frame(folder, "invoices").drop(columns="amount"), folder / "invoices.csv")


def semicolon_delimited(folder: Path) -> None:
    _write(_frame(folder, "accounts"), folder / "accounts.csv", sep=";")


def tab_delimited(folder: Path) -> None:
    _write(_frame(folder, "accounts"), folder / "accounts.csv", sep="\t")


def latin1_bytes(folder: Path) -> None:
    frame = _frame(folder, "accounts")
    frame.loc[2, "account_name"] = "Société Générale SA"  # data row 3
    (folder / "accounts.csv").write_bytes(frame.to_csv(index=False, lineterminator="\n").encode("cp1252"))


def duplicate_header_column(folder: Path) -> None:
    path = folder / "accounts.csv"
    header, rest = path.read_text().split("\n", 1)
    path.write_text(header.replace("industry", "segment") + "\n" + rest)


def missing_required_file(folder: Path) -> None:
    (folder / "accounts.csv").unlink()


def csv_and_parquet(folder: Path) -> None:
    _frame(folder, "accounts").to_parquet(folder / "accounts.parquet", index=False)


def corrupt_parquet(folder: Path) -> None:
    (folder / "accounts.csv").unlink()
    (folder / "accounts.parquet").write_bytes(random.Random(7).randbytes(4096))


def parquet_missing_column(folder: Path) -> None:
    _frame(folder, "accounts").drop(columns="segment").to_parquet(folder / "accounts.parquet", index=False)
    (folder / "accounts.csv").unlink()


def unterminated_quote(folder: Path) -> tuple[str, ...]:
    row = _rows(folder, "outreach") + 1
    with (folder / "outreach.csv").open("a") as fh:
        fh.write('TCH-999999999,ACC-0000001,,email,outbound,,2026-07-01T14:00:00Z,delivered,,"Customer said\n')
    return (f"row {row}:",)  # the row the open quote is on


def gzip_named_csv(folder: Path) -> None:
    path = folder / "accounts.csv"
    path.write_bytes(gzip.compress(path.read_bytes()))


def folder_not_found(folder: Path) -> None:
    shutil.rmtree(folder)


def manifest_not_json(folder: Path) -> None:
    (folder / "manifest.json").write_text('{"extracted_at": "2026-11-01T06:00:00Z",')


def manifest_bad_timestamp(folder: Path) -> None:
    (folder / "manifest.json").write_text(json.dumps({"extracted_at": "last tuesday"}))


def nothing(folder: Path) -> None:
    pass


@dataclass(frozen=True)
class Bad:
    description: str
    mutate: Callable[[Path], tuple[str, ...] | None]  # may return more names the error must give (a row)
    phrase: str  # what the error says
    names: tuple[str, ...] = ()  # file, row, column: must all be in the error line
    args: tuple[str, ...] = field(default=())

BAD_FILES = [
    Bad("empty file (0 bytes)", empty_file, "file is empty", ("accounts.csv",)),
    Bad("missing required column", missing_required_column, "missing required column", ("invoices.csv", "'amount'")),
    Bad("semicolon-delimited file", semicolon_delimited, "not comma-delimited", ("accounts.csv", "';'")),
    Bad("tab-delimited file", tab_delimited, "not comma-delimited", ("accounts.csv", "'\\t'")),
    Bad("wrong encoding (cp1252 bytes in a name)", latin1_bytes, "is not UTF-8", ("accounts.csv", "row 3 ")),
    Bad("duplicate header column", duplicate_header_column, "appears twice", ("accounts.csv", "'segment'")),
    Bad("missing required file", missing_required_file, "required file is missing", ("accounts.csv",)),
    Bad("both CSV and Parquet for one entity", csv_and_parquet, "keep one per entity",
        ("accounts.csv", "accounts.parquet")),
    Bad("corrupt Parquet (random bytes)", corrupt_parquet, "cannot read Parquet", ("accounts.parquet",)),
    Bad("Parquet without a required column", parquet_missing_column, "missing required column",
        ("accounts.parquet", "'segment'")),
    Bad("unterminated quote at the end", unterminated_quote, "quoted field is never closed", ("outreach.csv",)),
    Bad("gzip file named .csv", gzip_named_csv, "is not UTF-8", ("accounts.csv", "header")),
    Bad("load folder not found", folder_not_found, "load folder not found", ("raw",)),
    Bad("manifest.json is not valid JSON", manifest_not_json, "not valid JSON", ("manifest.json",)),
    Bad("manifest.json extracted_at is not a timestamp", manifest_bad_timestamp, "is not an ISO 8601 timestamp",
        ("manifest.json", "'last tuesday'")),
    Bad("bad --as-of value", nothing, "is not a date", ("--as-of", "'2026-02-30'"), ("--as-of", "2026-02-30")),
]


@pytest.fixture
def previous(tmp_path) -> Path:
    """The warehouse a failed build must leave alone."""
    target = tmp_path / "build" / "warehouse.duckdb"
    target.parent.mkdir()
    con = duckdb.connect(str(target))
    con.execute("create table previous as select 42 as answer")
    con.close()
    return target


def test_the_catalogue_is_complete():
    assert len(BAD_FILES) >= 13
    assert len({b.description for b in BAD_FILES}) == len(BAD_FILES)


@pytest.mark.parametrize("bad", BAD_FILES, ids=[b.description for b in BAD_FILES])
def test_unreadable_file_stops_the_build(bad: Bad, small_book, copy_book, tmp_path, previous, run_cli,
                                         file_digest):
    folder = copy_book(small_book, tmp_path / "raw")
    names = bad.names + (bad.mutate(folder) or ())
    before = file_digest(previous)
    run = run_cli("build", "--raw", folder, "--warehouse", previous, *bad.args)
    line = run.assert_user_error(bad.phrase, *names)
    assert len(line) < 400, "one readable line"
    assert run.stdout == "", "nothing but the error"
    assert file_digest(previous) == before
    assert sorted(p.name for p in previous.parent.iterdir()) == ["warehouse.duckdb"]
