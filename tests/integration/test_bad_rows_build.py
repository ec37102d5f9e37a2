"""The bad-input catalogue, end to end: one real `dunning build` of a book in which every row-level kind of bad
input and every tolerated oddity of a real export is planted, each in its own rows or file.

The build must succeed; each bad row ends in raw._quarantine with its file, row, column and reason (and nothing
else is quarantined but the orphans of rejected parents); rows read = rows loaded + rows quarantined for every
file; tolerated oddities load; no card number reaches any table, report or export; formulas in names and notes
are neutralised in every export; SQL-looking text is stored as text. Files that cannot be read at all are the
other half of the catalogue (tests/integration/test_bad_files.py); `test_the_catalogue_has_thirty_kinds` counts
both halves.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from bad_input import CONTRACT, BookEditor, Plant, assert_quarantined, corrupt
from test_bad_files import BAD_FILES

from data_quality.pan import contains_pan, scan_frame_for_pans

pytestmark = pytest.mark.slow

INJECTIONS = ['=HYPERLINK("http://example.invalid/x","click")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)"]
SQL_NAME = "Bobby Tables'); drop table raw.accounts; --"
SQL_REFERENCE = "'; delete from raw.payments where '1'='1"
MULTILINE_NOTE = 'Spoke to AP, they said:\n"payment run is on Friday, 15th"\nwill check again'
UNKNOWN_DECLINE = "zz_gateway_new_code"
SCALE = 10  # the outreach file arrives ten times larger than usual


@dataclass
class BadBuild:
    folder: Path
    warehouse: Path
    reports: Path
    exports: Path
    plants: list[Plant]
    bad_account: str
    outreach_rows: int  # of the original file
    run_output: str


# ------------------------------------------------------------------------------------------- tolerated oddities
def header_only(folder: Path) -> None:
    path = folder / "cases.csv"
    path.write_text(path.read_text().split("\n", 1)[0] + "\n")


def extra_column(folder: Path) -> None:
    frame = pd.read_csv(folder / "accounts.csv", dtype=str, keep_default_na=False)
    frame.insert(3, "legacy_code", "X-1")
    frame.to_csv(folder / "accounts.csv", index=False, lineterminator="\n")


def utf8_bom(folder: Path) -> None:
    path = folder / "invoices.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())


def spaces_around_header_names(folder: Path) -> None:
    path = folder / "payment_attempts.csv"
    header, rest = path.read_text().split("\n", 1)
    path.write_text(header.replace(",", " , ") + "\n" + rest)


def larger_file_with_notes(folder: Path) -> int:
    """Outreach ten times larger (new touch ids), a multi-line note, formulas in notes; returns the original rows."""
    frame = pd.read_csv(folder / "outreach.csv", dtype=str, keep_default_na=False)
    copies = []
    for k in range(SCALE):
        copy = frame.copy()
        if k:
            copy["touch_id"] = copy["touch_id"] + f"-x{k}"
        copies.append(copy)
    big = pd.concat(copies, ignore_index=True)
    big.loc[9, "note"] = MULTILINE_NOTE  # data row 10
    big.loc[11, "note"] = INJECTIONS[0]
    big.to_csv(folder / "outreach.csv", index=False, lineterminator="\n")
    return len(frame)


# ------------------------------------------------------------------------------------------- more bad rows
def plant_more(folder: Path) -> list[Plant]:
    """Row-level kinds beyond `corrupt`: wrong types, an impossible month, mixed currencies, formulas and SQL in
    names and memos, an unknown decline code (kept and reported, not quarantined)."""
    book = BookEditor(folder)
    plants = []

    def plant(name, entity, row, column, phrase):
        plants.append(Plant(name, entity, row, column, phrase))

    pay = book.frame("payments")
    plant("wrong type (decimal with a comma)", "payments",
          book.append("payments", payment_id="PAY-P01", amount="12,50"), "amount", "not a valid decimal: 12,50")
    plant("impossible month", "payments",
          book.append("payments", payment_id="PAY-P02", effective_date="2026-13-01"), "effective_date",
          "not a valid date: 2026-13-01")
    plant("amount with a currency symbol", "payments",
          book.append("payments", payment_id="PAY-P03", amount="$1,200.00"), "amount", "not a valid decimal")
    # Mixed currencies: a EUR receipt from a USD account loads (a warning), applying it to a USD invoice does not.
    usd = pay.index[(pay["currency"] == "USD") & (pay["attempt_id"] == "")]
    template = int(usd[0]) if len(usd) else 0
    book.append("payments", template=template, payment_id="PAY-P04", currency="EUR", amount="100.00", attempt_id="")
    apps = book.frame("payment_applications")
    invoices = book.frame("invoices")
    usd_invoice = invoices.loc[invoices["currency"] == "USD", "invoice_id"].iloc[0]
    plant("payment currency differs from invoice currency", "payment_applications",
          book.append("payment_applications", application_id="APP-P02", payment_id="PAY-P04",
                      invoice_id=usd_invoice, applied_amount="50.00", applied_at=pay.loc[template, "posted_at"]),
          "invoice_id", "payment currency differs from invoice currency")
    del apps

    attempts = book.frame("payment_attempts")
    plant("wrong type (int)", "payment_attempts",
          book.append("payment_attempts", attempt_id="ATT-P01", attempt_number="two"), "attempt_number",
          "not a valid int: two")
    plant("wrong type (boolean)", "payment_attempts",
          book.append("payment_attempts", attempt_id="ATT-P02", is_customer_initiated="perhaps"),
          "is_customer_initiated", "not a valid bool")
    plant("card expiry month 13", "payment_attempts",
          book.append("payment_attempts", attempt_id="ATT-P03", card_exp_month="13"), "card_exp_month",
          "above maximum 12")
    failed_card = attempts.index[(attempts["outcome"] == "failed") & (attempts["method"] == "card")]
    # Neither code known (a known response code alone would classify the attempt).
    book.set("payment_attempts", int(failed_card[0]), decline_code=UNKNOWN_DECLINE, response_code="Q9", advice_code="")

    accounts = book.frame("accounts")
    for i in range(0, len(accounts), 5):  # formulas in many names, so some reach every worklist export
        book.set("accounts", i, account_name=INJECTIONS[(i // 5) % len(INJECTIONS)] + f" {i}")
    book.set("accounts", 2, account_name=SQL_NAME)
    book.set("payments", 5, reference_text=SQL_REFERENCE)
    book.save()
    return plants


def one_bad_row(folder: Path) -> Plant:
    book = BookEditor(folder)
    row = book.set("promises_to_pay", 0, status="maybe")
    book.save()
    return Plant("one row breaking the contract", "promises_to_pay", row, "status", "unknown value status = maybe")


@pytest.fixture(scope="module")
def bad_build(small_book, copy_book, tmp_path_factory, run_console) -> BadBuild:
    root = tmp_path_factory.mktemp("bad_build")
    folder = copy_book(small_book, root / "raw")
    outreach_rows = larger_file_with_notes(folder)
    corrupted = corrupt(folder)
    plants = corrupted.plants + plant_more(folder) + [one_bad_row(folder)]
    for tolerate in (header_only, extra_column, utf8_bom, spaces_around_header_names):
        tolerate(folder)
    warehouse, reports, exports = root / "warehouse.duckdb", root / "reports", root / "exports"
    env = {**os.environ, "DUNNING_REPORTS": str(reports)}
    run = run_console("build", "--raw", folder, "--warehouse", warehouse, cwd=root, env=env)
    assert run.exit_code == 0, run.describe()
    exports.mkdir()
    for command, out in [("worklist", "worklist.csv"), ("worklist", "worklist.xlsx"), ("cases", "cases.csv")]:
        done = run_console(command, "--warehouse", warehouse, "--out", exports / out, cwd=root, env=env)
        assert done.exit_code == 0, done.describe()
    done = run_console("worklist", "--warehouse", warehouse, "--items", "--out", exports / "items.csv", cwd=root,
                       env=env)
    assert done.exit_code == 0, done.describe()
    return BadBuild(folder, warehouse, reports, exports, plants, corrupted.bad_account, outreach_rows, run.output)


@pytest.fixture
def con(bad_build):
    con = duckdb.connect(str(bad_build.warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def quarantine(bad_build) -> pd.DataFrame:
    con = duckdb.connect(str(bad_build.warehouse), read_only=True)
    try:
        return con.execute("select entity, file, source_row, column_name, reason, record from raw._quarantine").df()
    finally:
        con.close()


def _file_rows(path: Path) -> int:
    """Records in the file as a spreadsheet user counts them (short rows count, quoted newlines do not)."""
    return len(pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig"))


# ------------------------------------------------------------------------------------------- the catalogue
def test_the_catalogue_has_thirty_kinds(bad_build):
    kinds = {b.description for b in BAD_FILES} | {p.name for p in bad_build.plants} | {
        "header-only file", "extra column", "UTF-8 byte-order mark", "spaces around header names",
        "quoted newlines in a note", "a 10x larger file", "formulas (CSV injection) in names and notes",
        "SQL-looking strings", "unknown decline code", "card numbers in notes and memos",
        "payment in another currency than its account"}
    assert len(kinds) >= 30, sorted(kinds)


def test_the_build_succeeds_and_says_what_it_quarantined(bad_build, quarantine):
    assert "Traceback" not in bad_build.run_output
    noise = [line for line in bad_build.run_output.splitlines() if line.startswith(("INFO:", "WARNING:", "DEBUG:"))]
    assert not noise, f"library log lines reach the user: {noise[:3]}"
    assert f"{len(quarantine)} rows quarantined: see raw._quarantine" in bad_build.run_output


def test_every_file_conserves_rows(bad_build, con):
    for entity in CONTRACT.entities:
        entity_name = entity.name
        read, loaded, quarantined, status = con.execute(
            "select rows_read, rows_loaded, rows_quarantined, status from raw._load_audit where entity = ?",
            [entity_name]).fetchone()
        path = bad_build.folder / f"{entity_name}.csv"
        assert read == (_file_rows(path) if path.exists() else 0), entity_name
        assert read == loaded + quarantined, entity_name
        sources = con.execute(f"select _source_row from raw.{entity_name} union all "
                              "select source_row from raw._quarantine where entity = ?", [entity_name]).fetchall()
        assert sorted(s for (s,) in sources) == list(range(1, read + 1)), f"{entity_name}: rows lost or doubled"
        assert status == "loaded"


def test_each_planted_row_is_quarantined_with_file_row_column_and_reason(bad_build, quarantine):
    assert len(bad_build.plants) >= 25
    assert_quarantined(bad_build.plants, quarantine)


def test_nothing_else_is_quarantined_but_orphans_of_rejected_parents(bad_build, quarantine):
    planted = {(p.entity, p.source_row) for p in bad_build.plants}
    others = quarantine[[(e, r) not in planted for e, r in zip(quarantine["entity"], quarantine["source_row"],
                                                               strict=True)]]
    assert len(others) > 5  # the rejected account's invoices, payments, attempts... and their children
    assert others["reason"].str.contains(r"\(not in ", regex=True).all(), others["reason"].unique()


def test_tolerated_oddities_load(bad_build, con):
    assert con.execute("select count(*) from raw.cases").fetchone()[0] == 0  # header only
    extra = con.execute("select extra_columns from raw._load_audit where entity = 'accounts'").fetchone()[0]
    assert extra == "legacy_code"
    assert "legacy_code" not in [c for (c,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'raw' "
        "and table_name = 'accounts'").fetchall()]
    first = pd.read_csv(bad_build.folder / "invoices.csv", dtype=str, keep_default_na=False,
                        encoding="utf-8-sig").iloc[0]  # behind the byte-order mark
    assert con.execute("select invoice_id from raw.invoices where _source_row = 1").fetchone()[0] == first[
        "invoice_id"]
    assert con.execute("select note from raw.outreach where _source_row = 10").fetchone()[0] == MULTILINE_NOTE
    # Spaces around the header names: every attempt is there, typed by the contract (last four keep their zeros).
    assert con.execute("select count(*) from raw.payment_attempts where card_last4 like '0%'").fetchone()[0] > 0


def test_a_ten_times_larger_file_loads_every_row(bad_build, con):
    loaded = con.execute("select count(*) from raw.outreach").fetchone()[0]
    quarantined = con.execute("select count(*) from raw._quarantine where entity = 'outreach'").fetchone()[0]
    assert loaded + quarantined == SCALE * bad_build.outreach_rows + 3  # + the three planted rows
    assert con.execute("select count(*) from raw.outreach where touch_id like '%-x9'").fetchone()[0] > 0


def test_mixed_currencies_are_recorded_as_a_warning_and_the_cross_currency_application_is_quarantined(con):
    assert con.execute("select currency from raw.payments where payment_id = 'PAY-P04'").fetchone()[0] == "EUR"
    row = con.execute("select severity, success from quality.validation_results "
                      "where expectation = 'payment_currency_matches_account'").fetchone()
    assert row == ("warning", False)


def test_unknown_decline_code_is_kept_and_reported(con):
    family = con.execute("select decline_family from marts.fct_payment_attempts where decline_code = ?",
                         [UNKNOWN_DECLINE]).fetchone()
    assert family is not None and family[0] == "unmapped"
    reported = con.execute("select count(*) from reports.rpt_unmapped_codes where decline_code = ?",
                           [UNKNOWN_DECLINE]).fetchone()[0]
    assert reported == 1


def test_sql_looking_text_is_stored_as_text(con):
    assert con.execute("select count(*) from raw.accounts where account_name = ?", [SQL_NAME]).fetchone()[0] == 1
    assert con.execute("select count(*) from marts.dim_accounts where account_name = ?",
                       [SQL_NAME]).fetchone()[0] == 1
    assert con.execute("select count(*) from raw.payments where reference_text = ?",
                       [SQL_REFERENCE]).fetchone()[0] == 1


# ------------------------------------------------------------------------------------------- nothing leaks
def _export_frames(bad_build) -> dict[str, pd.DataFrame]:
    frames = {}
    for path in sorted(bad_build.exports.iterdir()):
        if path.suffix == ".xlsx":
            frames[path.name] = pd.read_excel(path, dtype=str).fillna("")
        else:
            frames[path.name] = pd.read_csv(path, dtype=str, keep_default_na=False)
    return frames


def test_no_card_number_in_any_table(con):
    columns = con.execute("select table_schema, table_name, column_name from information_schema.columns "
                          "where data_type = 'VARCHAR' and table_catalog = current_database()").fetchall()
    assert len(columns) > 100
    for schema, table, column in columns:
        hits = scan_frame_for_pans(con.execute(f'select "{column}" from "{schema}"."{table}"').df())
        assert not hits, f"card number in {schema}.{table}.{column}"
    masked = con.execute("select sum(pans_masked) from raw._load_audit").fetchone()[0]
    assert masked >= 6  # the planted ones, at least


def test_no_card_number_in_any_report_or_export(bad_build):
    files = [p for root in (bad_build.reports, bad_build.exports) for p in root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in files) and any(p.suffix == ".xlsx" for p in files)
    for path in files:
        if path.suffix == ".xlsx":
            text = json.dumps(pd.read_excel(path, dtype=str, sheet_name=None, header=None)
                              .popitem()[1].fillna("").values.tolist())
        elif path.suffix == ".png":
            continue
        else:
            text = path.read_text(encoding="utf-8", errors="replace")
        assert not contains_pan(text), f"card number in {path.name}"


def test_exports_neutralise_formulas(bad_build):
    neutralised = 0
    for name, frame in _export_frames(bad_build).items():
        cells = [str(c) for c in [*frame.columns, *frame.to_numpy().ravel()]]
        live = [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _is_number(c))]
        assert not live, f"{name}: formula cells {live[:3]}"
        neutralised += sum(c.startswith(("'=", "'+", "'-", "'@")) for c in cells)
    assert neutralised > 0, "no planted formula reached an export: the test proves nothing"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
