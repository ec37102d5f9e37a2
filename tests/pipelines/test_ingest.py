"""Ingest: every row is loaded or quarantined with its file, row, column and reason; card numbers are masked
everywhere; the same folder always gives the same warehouse."""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from bad_input import BookEditor, Corrupted, assert_quarantined, corrupt, data_rows

from data_quality.pan import contains_pan, mask_pans, scan_frame_for_pans
from pipelines.contract import load_contract
from pipelines.ingest import IngestError, ingest

CONTRACT = load_contract()


def _ingest_to(folder: Path, db: Path, **kwargs):
    con = duckdb.connect(str(db))
    try:
        results = ingest(folder, con, **kwargs)
    finally:
        con.close()
    return results


@pytest.fixture(scope="module")
def clean(small_book, tmp_path_factory):
    db = tmp_path_factory.mktemp("clean") / "warehouse.duckdb"
    results = _ingest_to(small_book, db)
    return db, results


@pytest.fixture(scope="module")
def corrupted(small_book, tmp_path_factory, copy_book) -> Corrupted:
    return corrupt(copy_book(small_book, tmp_path_factory.mktemp("corrupted") / "raw"))


@pytest.fixture(scope="module")
def corrupted_ingest(corrupted, tmp_path_factory):
    db = tmp_path_factory.mktemp("corrupted_db") / "warehouse.duckdb"
    results = _ingest_to(corrupted.folder, db)
    return db, results


@pytest.fixture
def con_of():
    """con_of(db) -> a read-only connection, closed after the test."""
    opened = []

    def open_(db):
        opened.append(duckdb.connect(str(db), read_only=True))
        return opened[-1]

    yield open_
    for con in opened:
        con.close()


# ------------------------------------------------------------------------------------------- clean book
def test_clean_book_loads_every_row_and_quarantines_nothing(clean, small_book, con_of):
    db, results = clean
    con = con_of(db)
    assert con.execute("select count(*) from raw._quarantine").fetchone()[0] == 0
    assert [r.entity for r in results] == CONTRACT.entity_names
    for r in results:
        assert r.status == "loaded" and r.file == f"{r.entity}.csv"
        assert r.rows_read == r.rows_loaded == data_rows(small_book / r.file), r
        assert r.rows_quarantined == 0 and r.extra_columns == []
    assert sum(r.rows_read > 0 for r in results) >= len(results) - 3, "the small book is mostly empty"


def test_raw_tables_have_contract_columns_and_types(clean, con_of):
    con = con_of(clean[0])
    for entity in CONTRACT.entities:
        columns = con.execute("select column_name, data_type from information_schema.columns "
                              "where table_schema = 'raw' and table_name = ? order by ordinal_position",
                              [entity.name]).fetchall()
        expected = [(c.name, c.duckdb_type.upper().replace("TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE"))
                    for c in entity.columns]
        assert columns == [*expected, ("_source_row", "BIGINT")], entity.name


def test_parquet_book_loads_the_same_rows_as_csv(clean, small_book_parquet, tmp_path, con_of):
    db = tmp_path / "parquet.duckdb"
    results = _ingest_to(small_book_parquet, db)
    assert all(r.rows_quarantined == 0 and r.file.endswith(".parquet") for r in results)
    csv_con, parquet_con = con_of(clean[0]), con_of(db)
    for entity in CONTRACT.entity_names:
        query = f"select * from raw.{entity} order by _source_row"
        assert csv_con.execute(query).fetchall() == parquet_con.execute(query).fetchall(), entity


def test_built_warehouse_keeps_the_generated_card_numbers_masked(clean, small_book, con_of, text_columns):
    """The generator pasted a few card numbers into notes and remittance text: masked and counted."""
    con = con_of(clean[0])
    expected = Counter()
    for entity in CONTRACT.entities:
        frame = pd.read_csv(small_book / f"{entity.name}.csv", dtype=str, keep_default_na=False)
        for column in frame.columns:
            expected[(entity.name, column)] += sum(mask_pans(v)[1] for v in frame[column])
    audited = {(e, c): n for e, _, c, n in con.execute("select * from raw._pan_mask_audit").fetchall()}
    assert audited == {k: v for k, v in expected.items() if v}
    assert sum(audited.values()) > 0
    _assert_no_pans(con, text_columns)


# ------------------------------------------------------------------------------------------- bad rows
def test_every_file_conserves_rows(corrupted, corrupted_ingest, con_of):
    db, results = corrupted_ingest
    con = con_of(db)
    audit = {row[0]: row for row in con.execute(
        "select entity, file, rows_read, rows_loaded, rows_quarantined, pans_masked, status from raw._load_audit")
        .fetchall()}
    assert len(audit) == len(CONTRACT.entities)
    for r in results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined, r
        assert r.rows_read == corrupted.rows[r.entity], f"{r.entity}: rows_read is not the file's row count"
        assert audit[r.entity] == (r.entity, r.file, r.rows_read, r.rows_loaded, r.rows_quarantined, r.pans_masked,
                                   r.status)
        loaded = con.execute(f"select count(*) from raw.{r.entity}").fetchone()[0]
        quarantined = con.execute("select count(*) from raw._quarantine where entity = ?", [r.entity]).fetchone()[0]
        assert (loaded, quarantined) == (r.rows_loaded, r.rows_quarantined), r.entity
        sources = con.execute(f"select _source_row from raw.{r.entity} union all "
                              f"select source_row from raw._quarantine where entity = '{r.entity}'").fetchall()
        assert sorted(s for (s,) in sources) == list(range(1, r.rows_read + 1)), f"{r.entity}: rows lost or doubled"


@pytest.mark.parametrize("book", ["clean", "corrupted_ingest"])
def test_raw_tables_keep_the_file_order(book, request, con_of):
    """Clean files load by a plain scan, files with bad rows by a sort: either way storage follows the file."""
    db, results = request.getfixturevalue(book)
    con = con_of(db)
    for r in results:
        rows = [s for (s,) in con.execute(f"select _source_row from raw.{r.entity}").fetchall()]
        assert rows == sorted(rows), f"{r.entity}: rows stored out of file order"
    if book == "corrupted_ingest":
        assert any(r.rows_quarantined and r.rows_loaded for r in results), "no file exercised the sorted load"


def _plant_ids(plants):
    return [f"{p.entity}: {p.name}" for p in plants]


@pytest.fixture(scope="module")
def quarantine(corrupted_ingest):
    con = duckdb.connect(str(corrupted_ingest[0]), read_only=True)
    rows = con.execute("select entity, file, source_row, column_name, reason, record from raw._quarantine").df()
    con.close()
    return rows


def test_each_planted_row_is_quarantined_with_file_row_column_and_reason(corrupted, quarantine):
    assert len(corrupted.plants) >= 18
    assert_quarantined(corrupted.plants, quarantine)


def test_quarantine_record_is_the_row_as_read(corrupted, quarantine):
    p = next(p for p in corrupted.plants if p.name == "negative amount")
    row = quarantine[(quarantine["entity"] == "invoices") & (quarantine["source_row"] == p.source_row)].iloc[0]
    record = json.loads(row["record"])
    assert list(record) == CONTRACT.entity("invoices").column_names
    assert record["invoice_id"] == "INV-P01" and record["amount"] == "-50.00"


def test_children_of_a_quarantined_parent_are_quarantined_as_orphans(corrupted, quarantine, con_of,
                                                                    corrupted_ingest):
    bad = corrupted.bad_account
    con = con_of(corrupted_ingest[0])
    assert con.execute("select count(*) from raw.accounts where account_id = ?", [bad]).fetchone()[0] == 0
    planted = {(p.entity, p.source_row) for p in corrupted.plants}
    orphans = 0
    for entity in CONTRACT.entities:
        if "account_id" not in entity.column_names or entity.name == "accounts":
            continue
        frame = pd.read_csv(corrupted.folder / f"{entity.name}.csv", dtype=str, keep_default_na=False)
        rows = set((frame.index[frame["account_id"] == bad] + 1).tolist())
        q = quarantine[quarantine["entity"] == entity.name]
        by_row = dict(zip(q["source_row"], q["reason"], strict=True))
        for row in rows:
            assert row in by_row, f"{entity.name} row {row} of the rejected account was loaded"
            # The first unresolved reference is reported: the account, or a parent that was itself rejected.
            assert "(not in " in by_row[row], by_row[row]
            if entity.name == "invoices":
                assert "not in accounts" in by_row[row], by_row[row]
        orphans += len(rows)
        # Nothing else of this entity is quarantined but planted rows and the orphans' own children.
        others = {r for r in by_row if r not in rows and (entity.name, r) not in planted}
        for r in others:
            assert "(not in " in by_row[r], f"{entity.name} row {r}: {by_row[r]}"
    assert orphans > 5
    # Grandchildren: the applications of the rejected account's payments fail on payment_id.
    payments = pd.read_csv(corrupted.folder / "payments.csv", dtype=str, keep_default_na=False)
    apps = pd.read_csv(corrupted.folder / "payment_applications.csv", dtype=str, keep_default_na=False)
    orphan_apps = apps.index[apps["payment_id"].isin(payments.loc[payments["account_id"] == bad, "payment_id"])] + 1
    q = quarantine[quarantine["entity"] == "payment_applications"].set_index("source_row")
    assert len(orphan_apps) > 0
    for row in orphan_apps:
        assert "not in payments" in q.loc[row, "reason"] or "not in invoices" in q.loc[row, "reason"]


def test_only_planted_rows_and_orphans_are_quarantined(corrupted, quarantine):
    planted = {(p.entity, p.source_row) for p in corrupted.plants}
    for _, row in quarantine.iterrows():
        if (row["entity"], row["source_row"]) in planted:
            continue
        assert "(not in " in row["reason"], f"{row['entity']} row {row['source_row']}: {row['reason']}"


# ------------------------------------------------------------------------------------------- card numbers
def _assert_no_pans(con, text_columns):
    scanned = 0
    for schema, table, column in text_columns(con):
        frame = con.execute(f'select "{column}" from "{schema}"."{table}"').df()
        hits = scan_frame_for_pans(frame)
        assert not hits, f"card number in {schema}.{table}.{column} row {hits[0][1]}"
        scanned += 1
    assert scanned > 50


def test_card_numbers_are_masked_in_every_text_column_of_every_table(corrupted_ingest, con_of, text_columns):
    con = con_of(corrupted_ingest[0])
    _assert_no_pans(con, text_columns)
    names = dict(con.execute("select account_id, account_name from raw.accounts").fetchall())
    assert "Acme [card ****1111] Holdings" in names.values()
    notes = {n for (n,) in con.execute("select note from raw.outreach").fetchall()}
    assert "Customer read out [card ****4444] exp 12/27, cvv 123" in notes
    refs = {r for (r,) in con.execute("select reference_text from raw.payments").fetchall()}
    assert "remit: card [card ****0005]." in refs
    systems = {s for (s,) in con.execute("select source_system from raw.invoices").fetchall()}
    assert "[card ****1117]" in systems


def test_card_numbers_are_masked_inside_the_quarantine(corrupted_ingest, con_of):
    con = con_of(corrupted_ingest[0])
    record, reason = con.execute("select record, reason from raw._quarantine where record like '%TCH-P01%'").fetchone()
    assert json.loads(record)["note"] == "card [card ****1881] ok"
    assert not contains_pan(record)
    reason = con.execute("select reason from raw._quarantine where record like '%INV-P10%'").fetchone()[0]
    assert "[card ****1111]" in reason and not contains_pan(reason)


def test_masked_card_numbers_are_counted(corrupted, corrupted_ingest, con_of):
    """raw._pan_mask_audit holds, per file and column, exactly the card numbers the files contain."""
    con = con_of(corrupted_ingest[0])
    expected = Counter()
    for entity in CONTRACT.entities:
        frame = pd.read_csv(corrupted.folder / f"{entity.name}.csv", dtype=str, keep_default_na=False,
                            on_bad_lines="skip")
        for column in frame.columns:
            expected[(entity.name, column)] += sum(mask_pans(v)[1] for v in frame[column])
    audited = {(e, c): n for e, f, c, n in con.execute("select * from raw._pan_mask_audit").fetchall()
               if f == f"{e}.csv"}
    assert audited == {k: v for k, v in expected.items() if v}
    for key in (("accounts", "account_name"), ("outreach", "note"), ("payments", "reference_text"),
                ("invoices", "source_system"), ("invoices", "status")):
        assert audited.get(key, 0) >= 1, key
    per_file = dict(con.execute("select entity, pans_masked from raw._load_audit").fetchall())
    for entity in CONTRACT.entity_names:
        assert per_file[entity] == sum(n for (e, _), n in audited.items() if e == entity)


# ------------------------------------------------------------------------------------------- idempotency
def test_ingesting_the_same_folder_twice_gives_identical_tables(corrupted, corrupted_ingest, tmp_path, con_of,
                                                               warehouse_digest):
    again = tmp_path / "again.duckdb"
    _ingest_to(corrupted.folder, again)
    first, second = warehouse_digest(con_of(corrupted_ingest[0])), warehouse_digest(con_of(again))
    assert len(first) >= len(CONTRACT.entities) + 3
    assert first == second


# ------------------------------------------------------------------------------------------- tolerated formats
@pytest.fixture(scope="module")
def tolerant(small_book, tmp_path_factory, copy_book):
    """One folder with every tolerated oddity, each in its own file."""
    folder = copy_book(small_book, tmp_path_factory.mktemp("tolerant") / "raw")
    accounts = folder / "accounts.csv"
    accounts.write_bytes(b"\xef\xbb\xbf" + accounts.read_bytes())  # UTF-8 byte-order mark
    invoices = folder / "invoices.csv"
    invoices.write_bytes(invoices.read_bytes().replace(b"\n", b"\r\n"))  # Windows line endings
    attempts = folder / "payment_attempts.csv"
    lines = attempts.read_text().splitlines(keepends=True)
    lines[0] = lines[0].replace(",", " , ")  # spaces around the header's names
    attempts.write_text("".join(lines))
    book = BookEditor(folder)
    note = 'Called AP, they said:\n"cheque in the post, 2 weeks"\r\nwill follow up, ok'
    book.set("outreach", 5, note=note)  # quoted newlines (LF and CRLF), commas and quotes
    book.save()
    outreach = folder / "outreach.csv"
    lines = outreach.read_bytes().split(b"\n")
    assert lines[3].endswith(b",")  # data row 3 has an empty note, and comes before the multi-line one
    lines[3] += b'Sent a 5" screen photo'  # a stray quote inside an unquoted value: an odd number of quotes
    outreach.write_bytes(b"\n".join(lines))
    db = tmp_path_factory.mktemp("tolerant_db") / "warehouse.duckdb"
    return db, _ingest_to(folder, db), note


def test_tolerated_oddities_load_every_row(tolerant, clean):
    _, results, _ = tolerant
    expected = {r.entity: r.rows_read for r in clean[1]}
    for r in results:
        assert (r.rows_read, r.rows_loaded, r.rows_quarantined) == (expected[r.entity], expected[r.entity], 0), r


def test_bom_and_crlf_leave_values_intact(tolerant, clean, con_of):
    for table in ("accounts", "invoices", "payment_attempts"):
        query = f"select * from raw.{table} order by _source_row"
        assert con_of(tolerant[0]).execute(query).fetchall() == con_of(clean[0]).execute(query).fetchall(), table


def test_quoted_newlines_and_stray_quotes_load_as_written(tolerant, con_of):
    db, _, note = tolerant
    con = con_of(db)
    assert con.execute("select note from raw.outreach where _source_row = 6").fetchone()[0] == note
    assert con.execute("select note from raw.outreach where _source_row = 3").fetchone()[0] == 'Sent a 5" screen photo'
    rows = con.execute("select touch_id from raw.outreach where _source_row between 2 and 8 order by _source_row")
    assert [t for (t,) in rows.fetchall()] == [f"TCH-{i:09d}" for i in range(2, 9)]


# ------------------------------------------------------------------------------------------- cutoffs and files
def test_as_of_quarantines_later_events(small_book, tmp_path, con_of):
    db = tmp_path / "as_of.duckdb"
    results = {r.entity: r for r in _ingest_to(small_book, db, as_of="2026-09-30")}
    con = con_of(db)
    assert results["invoices"].rows_quarantined > 0
    reasons = {r for (r,) in con.execute("select distinct reason from raw._quarantine "
                                         "where entity = 'invoices'").fetchall()}
    assert all("after the extract time" in r or "(not in " in r for r in reasons), reasons
    assert con.execute("select max(posted_at) from raw.invoices").fetchone()[0].isoformat() <= "2026-10-01"


def test_a_row_with_several_problems_lists_them_all(small_book, tmp_path, con_of, copy_book, read_frame):
    """The quarantine names the first failing check (column, reason) and every failing check in `problems`, so one
    round of fixes can mend the row."""
    folder = copy_book(small_book, tmp_path / "raw")
    invoices = read_frame(folder / "invoices.csv")
    invoices.loc[0, ["amount", "currency", "due_date"]] = ["two", "XXX", "2020-01-01"]
    invoices.to_csv(folder / "invoices.csv", index=False)
    db = tmp_path / "w.duckdb"
    _ingest_to(folder, db)
    row = con_of(db).execute("select column_name, reason, problems from raw._quarantine "
                             "where entity = 'invoices' and source_row = 1").fetchone()
    column, reason, problems = row
    parts = problems.split("; ")
    assert f"{column}: {reason}" == parts[0]  # the first problem is the one named in column and reason
    assert {p.split(":")[0] for p in parts} >= {"amount", "currency", "due_date"}, problems


def test_bad_as_of_is_refused_before_anything_is_read(small_book):
    with pytest.raises(ValueError, match="is not a date"):
        ingest(small_book, duckdb.connect(), as_of="2026-09-31'; drop table x; --")


def test_absent_optional_file_loads_empty(small_book, tmp_path, con_of, copy_book):
    folder = copy_book(small_book, tmp_path / "raw")
    (folder / "cases.csv").unlink()
    db = tmp_path / "w.duckdb"
    results = {r.entity: r for r in _ingest_to(folder, db)}
    assert results["cases"].status == "absent" and results["cases"].rows_read == 0
    con = con_of(db)
    assert con.execute("select count(*) from raw.cases").fetchone()[0] == 0
    assert con.execute("select status, file from raw._load_audit where entity = 'cases'").fetchone() == ("absent", "")


def test_missing_required_file_raises(small_book, tmp_path, copy_book):
    folder = copy_book(small_book, tmp_path / "raw")
    shutil.move(folder / "payments.csv", tmp_path / "payments.csv")
    with pytest.raises(IngestError, match=r"payments\.csv: required file is missing"):
        ingest(folder, duckdb.connect())


def test_a_memory_limit_bounds_duckdb_during_ingest_and_loads_the_same_rows(small_book, clean, monkeypatch):
    """DUNNING_DUCKDB_MEMORY_LIMIT makes large files spill instead of growing memory; the load is unchanged."""
    import dataclasses

    import pipelines.ingest as ingest_module

    monkeypatch.setattr(ingest_module, "SETTINGS",
                        dataclasses.replace(ingest_module.SETTINGS, duckdb_memory_limit="256MB"))
    con = duckdb.connect()
    results = ingest(small_book, con)
    assert con.execute("select current_setting('memory_limit')").fetchone()[0] in ("256.0 MiB", "244.1 MiB")
    expected = {r.entity: r.rows_loaded for r in clean[1]}
    assert {r.entity: r.rows_loaded for r in results} == expected


def test_the_default_memory_limit_is_a_third_of_available_memory_and_duckdb_accepts_it():
    from pipelines.config import available_memory, default_memory_limit

    limit = default_memory_limit()
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert 0 < available_memory() <= physical
    assert limit.endswith("MiB") and abs(int(limit[:-3]) - available_memory() / 2**20 / 3) <= 1
    con = duckdb.connect()
    con.execute("set memory_limit = ?", [limit])
    set_to = con.execute("select current_setting('memory_limit')").fetchone()[0]  # e.g. '7.8 GiB'
    assert abs(float(set_to.split()[0]) * (1024 if set_to.endswith("GiB") else 1) - int(limit[:-3])) < 60
