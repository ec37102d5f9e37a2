"""Load one raw-extract folder into the `raw` schema of a DuckDB warehouse, validating every row.

For each contract entity, in load order:
  read (CSV or Parquet, every value as text) -> mask card numbers -> validate in SQL against the contract
  -> typed rows into raw.<entity>, failing rows into raw._quarantine with row, column and reason
  -> raw._load_audit proves rows_read = rows_loaded + rows_quarantined.
A file that cannot be read at all raises IngestError with one line naming the file (and row or column).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from data_quality.pan import MIN_PAN_DIGITS, mask_pan_array
from pipelines.config import SETTINGS
from pipelines.contract import Column, Contract, Entity, load_contract
from pipelines.warehouse import configure_session

log = logging.getLogger(__name__)

ROW = "_row"  # 1-based data row in the file (the header is not counted)
OTHER_DELIMITERS = (";", "\t", "|")


class IngestError(Exception):
    """A file cannot be loaded at all; the message is one line naming file and row or column."""


@dataclass
class FileResult:
    entity: str
    file: str
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    pans_masked: int = 0
    extra_columns: list[str] = field(default_factory=list)
    status: str = "loaded"


def sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


# ------------------------------------------------------------------------------------------- reading
def find_file(raw_dir: Path, entity: Entity) -> Path | None:
    found = [p for p in (raw_dir / f"{entity.name}.csv", raw_dir / f"{entity.name}.parquet") if p.exists()]
    if len(found) > 1:
        raise IngestError(f"{raw_dir}: both {found[0].name} and {found[1].name} exist; keep one per entity")
    return found[0] if found else None


def read_header(path: Path, strip: bool = True) -> list[str]:
    """Column names of a CSV's header row (stripped of spaces unless strip=False, as pyarrow sees them)."""
    with path.open("rb") as fh:
        first = fh.readline()
    if not first.strip():
        raise IngestError(f"{path.name}: file is empty (no header row); export it with its header")
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path.name}: row 0 (header) is not UTF-8 text at byte {exc.start}; "
                          "export the file as UTF-8") from None
    header = next(csv.reader(io.StringIO(text)))
    return [h.strip() for h in header] if strip else header


def check_header(path: Path, header: list[str], entity: Entity) -> list[str]:
    """Fail on a header that cannot be the contract's; return the extra (ignored) columns."""
    if len(header) == 1 and any(d in header[0] for d in OTHER_DELIMITERS):
        found = next(d for d in OTHER_DELIMITERS if d in header[0])
        raise IngestError(f"{path.name}: header is not comma-delimited (found {found!r}); export with commas")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise IngestError(f"{path.name}: column {dupes[0]!r} appears twice in the header")
    missing = [c for c in entity.column_names if c not in header]
    required_missing = [c for c in missing if entity.column(c).required]
    if required_missing:
        raise IngestError(f"{path.name}: missing required column {required_missing[0]!r} "
                          f"(expected columns: {', '.join(entity.column_names)})")
    return [h for h in header if h not in entity.column_names]


def first_bad_utf8_row(path: Path) -> tuple[int, int]:
    """(data row, byte offset) of the first byte sequence that is not UTF-8."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start), exc.start
    return 0, 0


def check_quotes(path: Path) -> None:
    """Fail on a quoted field that is never closed.

    pyarrow reads it as a value running to the end of the file, silently swallowing every row after it. Quotes
    come in pairs in RFC 4180 CSV, so only a file with an odd number of them (an open field, or a harmless stray
    quote inside an unquoted value such as 5" disk) is parsed again by a parser that reports an open field.
    """
    count = 0
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            count += block.count(b'"')
    if count % 2 == 0:
        return
    import pandas as pd

    try:
        pd.read_csv(path, dtype=str, encoding="latin-1", usecols=[0], on_bad_lines="skip", keep_default_na=False)
    except pd.errors.ParserError as exc:
        found = re.search(r"EOF inside string starting at row (\d+)", str(exc))
        if not found:
            raise IngestError(f"{path.name}: cannot parse CSV: {str(exc).splitlines()[0]}") from None
        raise IngestError(f"{path.name}: row {found.group(1)}: a quoted field is never closed (its closing \" is "
                          "missing), so every row after it would be lost; fix the quoting") from None


def read_csv(path: Path, entity: Entity) -> tuple[pa.Table, list[tuple[int, str]], list[str]]:
    """All values as text plus the 1-based data row of each; also rows with the wrong number of fields."""
    raw_header = read_header(path, strip=False)
    header = [h.strip() for h in raw_header]
    extra = check_header(path, header, entity)
    check_quotes(path)
    malformed: list[tuple[int, str]] = []

    def on_bad_row(row):
        malformed.append((row.number - 1, f"row has {row.actual_columns} fields, the header has "
                                          f"{row.expected_columns}"))
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            # Single-threaded so pyarrow can tell which row was malformed.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_bad_row),
            convert_options=pacsv.ConvertOptions(
                # Keyed by the names as written (" amount"), or pyarrow would infer that column's type.
                column_types={h: pa.string() for h in raw_header}, strings_can_be_null=False,
                quoted_strings_can_be_null=False),
        )
    except pa.ArrowInvalid as exc:
        message = str(exc).splitlines()[0]
        if "UTF8" in message or "utf8" in message.lower():
            row, offset = first_bad_utf8_row(path)
            raise IngestError(f"{path.name}: row {row} is not UTF-8 text (byte {offset}); "
                              "export the file as UTF-8") from None
        raise IngestError(f"{path.name}: cannot parse CSV: {message}") from None
    total = table.num_rows + len(malformed)
    bad_rows = np.array([r for r, _ in malformed], dtype=np.int64)
    rows = np.setdiff1d(np.arange(1, total + 1, dtype=np.int64), bad_rows)
    table = table.rename_columns([c.lstrip("\ufeff").strip() for c in table.column_names])
    return table.append_column(ROW, pa.array(rows)), malformed, extra


def read_parquet(path: Path, entity: Entity) -> tuple[pa.Table, list[tuple[int, str]], list[str]]:
    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure is one clear line
        raise IngestError(f"{path.name}: cannot read Parquet: {str(exc).splitlines()[0]}") from None
    extra = check_header(path, table.column_names, entity)
    columns = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            # Offset-less timestamps stay offset-less so validation flags them like in CSV.
            if col.type.tz is None:
                columns[name] = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
            else:
                columns[name] = pc.strftime(col.cast(pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        else:
            columns[name] = col.cast(pa.string())
    table = pa.table(columns)
    table = table.append_column(ROW, pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    return table, [], extra


def mask_table(table: pa.Table) -> tuple[pa.Table, dict[str, int]]:
    """Replace card numbers in every text column before anything is written; counts per column."""
    counts = {}
    for i, name in enumerate(table.column_names):
        if name == ROW or not pa.types.is_string(table.schema.field(i).type):
            continue
        if (pc.max(pc.utf8_length(table.column(name))).as_py() or 0) < MIN_PAN_DIGITS:
            continue  # no value is long enough to hold a card number: skip the scan
        masked, n = mask_pan_array(table.column(name))
        if n:
            table = table.set_column(i, name, masked)
            counts[name] = n
    return table, counts


# ------------------------------------------------------------------------------------------- validation
# Validation reads three layers over the registered source: each column's text once trimmed (_v_<col>), parsed
# once to its contract type (_t_<col>), then every check over those. Only failing rows are kept (_bad); the
# source is never copied whole.
def text_value(name: str, table: str = "") -> str:
    """A column's text without surrounding spaces; empty text is missing (null)."""
    return f"nullif(trim({table + '.' if table else ''}\"{name}\"), '')"


def parsed(column: Column, text: str) -> str:
    """Text parsed to the column's contract type; timestamps become naive UTC (the session zone is UTC)."""
    if column.type == "timestamp":
        return f"cast(try_cast({text} as timestamptz) as timestamp)"
    return f"try_cast({text} as {column.duckdb_type})"


def _v(name: str) -> str:
    return f"\"_v_{name}\""


def _t(name: str) -> str:
    return f"\"_t_{name}\""


def column_checks(contract: Contract, entity: Entity, column: Column, cutoff: str | None) -> list[str]:
    """SQL expressions, each yielding a reason text (or null) for one column of one row."""
    c, v, typed = column.name, _v(column.name), _t(column.name)
    checks = []
    if column.required:
        checks.append(f"case when {v} is null then 'missing required value' end")
    low, high = contract.date_range
    if column.type == "timestamp":
        # A time of day then an offset: a bare date ends like an offset ("-10") and would pass as midnight UTC.
        checks.append(f"case when {v} is not null and not regexp_matches({v}, "
                      "'[0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)? *(Z|z|[+-][0-9]{2}(:?[0-9]{2})?)$')"
                      f" then 'timestamp without a UTC offset: ' || {v} end")
    checks.append(f"case when {v} is not null and {typed} is null then "
                  f"'not a valid {column.type}: ' || left({v}, 60) end")
    if column.type in ("date", "timestamp"):
        as_date = f"cast({typed} as date)"
        checks.append(f"case when {as_date} < date '{low}' or {as_date} > date '{high}' then "
                      f"'date out of range: ' || {v} end")
        if cutoff and not column.future_ok:
            checks.append(f"case when {typed} > cast(timestamptz '{cutoff}' as timestamp) then "
                          f"'after the extract time ({cutoff}): ' || {v} end")
    if column.enum:
        allowed = ", ".join(sql_str(e) for e in column.enum)
        checks.append(f"case when {v} not in ({allowed}) then "
                      f"'unknown value ' || {sql_str(c)} || ' = ' || left({v}, 40) || "
                      f"' (allowed: {', '.join(column.enum)})' end")
    if column.pattern:
        checks.append(f"case when not regexp_full_match({v}, {sql_str(column.pattern[1:-1])}) "
                      f"then 'bad format: ' || left({v}, 40) end")
    if column.min is not None:
        word = "negative amount" if column.min <= 0.01 and column.type == "decimal" else "below minimum"
        checks.append(f"case when {typed} < {column.min} then '{word} ({column.min:g} minimum): ' || {v} end")
    if column.max is not None:
        checks.append(f"case when {typed} > {column.max} then 'above maximum {column.max:g}: ' || {v} end")
    if column.type == "decimal":
        checks.append(f"case when abs({typed}) > {contract.max_amount} then 'absurd amount: ' || {v} end")
    if column.currency:
        checks.append(f"case when {v} not in (select currency from _currencies) "
                      f"then 'unknown currency (no fx rate): ' || {v} end")
    if column.references:
        parent, key = column.references.split(".")
        checks.append(f"case when {v} not in (select \"{key}\" from raw.{parent}) "
                      f"then 'unknown {c} (not in {parent}): ' || left({v}, 40) end")
    return checks


def entity_checks(entity: Entity, has_duplicates: bool) -> list[tuple[str, str]]:
    """(column, SQL reason expression) for cross-column and cross-row rules of the contract."""
    checks = []
    if has_duplicates:  # _first_row: the key's first row, joined from _duplicate_keys (null for unique keys)
        checks.append((entity.primary_key[0],
                       f"case when {ROW} > _first_row then 'duplicate {'/'.join(entity.primary_key)} "
                       "(first seen at row ' || _first_row || ')' end"))
    if "due_not_before_invoice" in entity.checks:
        checks.append(("due_date", f"case when {_t('due_date')} < {_t('invoice_date')} "
                                   "then 'due date before invoice date' end"))
    if "card_fields_for_cards" in entity.checks:
        checks.append(("card_brand", f"case when {_v('method')} = 'card' and {_v('card_brand')} is null "
                                     "then 'card attempt without card_brand' end"))
    if "application_currency_matches" in entity.checks:
        checks.append(("invoice_id", f"case when (select p.currency from raw.payments as p where p.payment_id = "
                                     f"{_v('payment_id')}) <> (select i.currency from raw.invoices as i where "
                                     f"i.invoice_id = {_v('invoice_id')}) then "
                                     "'payment currency differs from invoice currency' end"))
    return checks


def validate(con: duckdb.DuckDBPyConnection, contract: Contract, entity: Entity, cutoff: str | None) -> int:
    """Create _bad: (_row, _column, _reason, _problems) of every source row that fails a check: its first failing
    check, and every failing check as 'column: reason; ...' (so one round of fixes can mend them all); return how
    many rows it holds."""
    keys = ", ".join(f"trim(\"{k}\")" for k in entity.primary_key)
    con.execute(f"""create or replace temp table _duplicate_keys as
        select {', '.join(f'trim("{k}") as "{k}"' for k in entity.primary_key)}, min({ROW}) as _first_row
        from _source group by {keys} having count(*) > 1""")
    has_duplicates = con.execute("select count(*) from _duplicate_keys").fetchone()[0] > 0
    reasons: list[tuple[str, str]] = []
    for column in entity.columns:
        reasons += [(column.name, expr) for expr in column_checks(contract, entity, column, cutoff)]
    reasons += entity_checks(entity, has_duplicates)
    texts = ", ".join(f"{text_value(c.name, '_src')} as {_v(c.name)}" for c in entity.columns)
    types = ", ".join(f"{parsed(c, _v(c.name))} as {_t(c.name)}" for c in entity.columns)
    source = "_source as _src"
    if has_duplicates:
        on = " and ".join(f"_d.\"{k}\" = trim(_src.\"{k}\")" for k in entity.primary_key)
        source += f" left join _duplicate_keys as _d on {on}"
    checks = ", ".join(f"{expr} as _r{i}" for i, (_, expr) in enumerate(reasons))
    column_sql = "case " + " ".join(f"when _r{i} is not null then {sql_str(col)}"
                                    for i, (col, _) in enumerate(reasons)) + " end"
    reason_sql = "coalesce(" + ", ".join(f"_r{i}" for i in range(len(reasons))) + ")"
    problems_sql = "concat_ws('; ', " + ", ".join(f"{sql_str(col + ': ')} || _r{i}"
                                                  for i, (col, _) in enumerate(reasons)) + ")"
    con.execute(f"""
        create or replace temp table _bad as
        with failing as (  -- the failing rows' check results only: the rest never reach the texts below
            select * from (
                select {ROW}, {checks}
                from (select *, {types}
                      from (select _src.{ROW}, {'_d._first_row, ' if has_duplicates else ''}{texts} from {source})))
            where {reason_sql} is not null
        )
        select {ROW}, {column_sql} as _column, {reason_sql} as _reason, {problems_sql} as _problems
        from failing
    """)
    if "applications_within_payment" in entity.checks:
        # Cash applied beyond what the payment brought in: the applications past the payment amount are bad.
        con.execute(f"""
            insert into _bad
            select {ROW}, 'applied_amount', 'applications exceed payment amount',
                   'applied_amount: applications exceed payment amount' from (
                select a.{ROW}, sum(try_cast(a.applied_amount as decimal(18,2))) over (
                           partition by trim(a.payment_id) order by a.applied_at, a.{ROW}
                           rows between unbounded preceding and current row) as running,
                       p.amount as paid
                from _source as a join raw.payments as p on p.payment_id = trim(a.payment_id)
                where a.{ROW} not in (select {ROW} from _bad)
            ) where running > paid + 0.005
        """)
    return con.execute("select count(*) from _bad").fetchone()[0]


# ------------------------------------------------------------------------------------------- loading
def create_audit_tables(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("create schema if not exists raw")
    con.execute("""create table if not exists raw._quarantine (
        entity varchar, file varchar, source_row bigint, column_name varchar, reason varchar, record varchar,
        problems varchar)""")
    con.execute("""create table if not exists raw._load_audit (
        entity varchar, file varchar, file_sha256 varchar, rows_read bigint, rows_loaded bigint,
        rows_quarantined bigint, pans_masked bigint, extra_columns varchar, status varchar)""")
    con.execute("""create table if not exists raw._pan_mask_audit (
        entity varchar, file varchar, column_name varchar, pans_masked bigint)""")


def typed_select(entity: Entity, present: set[str]) -> str:
    parts = []
    for column in entity.columns:
        if column.name in present:
            value = parsed(column, text_value(column.name))
        else:
            value = f"cast(null as {column.duckdb_type})"
        parts.append(f"{value} as {column.name}")
    parts.append(f"{ROW} as _source_row")
    return ", ".join(parts)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_entity(con, contract: Contract, entity: Entity, path: Path | None, cutoff: str | None) -> FileResult:
    if path is None:
        if entity.required_file:
            raise IngestError(f"{entity.name}.csv: required file is missing from the load folder")
        con.execute(f"create table raw.{entity.name} as select {typed_select(entity, set())} "
                    f"from (select 0 as {ROW}) where false")
        result = FileResult(entity.name, "", status="absent")
    else:
        reader = read_parquet if path.suffix == ".parquet" else read_csv
        table, malformed, extra = reader(path, entity)
        for name in entity.column_names:  # optional columns the export left out load as null
            if name not in table.column_names:
                table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
        table, pan_counts = mask_table(table)
        con.register("_source", table)  # read in place: a copy of the largest file would double its memory
        bad = validate(con, contract, entity, cutoff)
        # Rows load in file order: a plain scan keeps it; dropping the bad rows needs the sort.
        keep = f"where {ROW} not in (select {ROW} from _bad) order by {ROW}" if bad else ""
        con.execute(f"create table raw.{entity.name} as select {typed_select(entity, set(entity.column_names))} "
                    f"from _source {keep}")
        record = "to_json(struct_pack(" + ", ".join(f"\"{c}\" := s.\"{c}\"" for c in entity.column_names) + "))"
        con.execute(f"""insert into raw._quarantine
            select {sql_str(entity.name)}, {sql_str(path.name)}, b.{ROW}, b._column, b._reason, {record},
                   b._problems
            from _bad as b join _source as s on s.{ROW} = b.{ROW} order by b.{ROW}""")
        for row, reason in malformed:
            con.execute("insert into raw._quarantine values (?, ?, ?, ?, ?, ?, ?)",
                        [entity.name, path.name, row, None, reason, None, reason])
        loaded = con.execute(f"select count(*) from raw.{entity.name}").fetchone()[0]
        result = FileResult(entity.name, path.name, rows_read=table.num_rows + len(malformed), rows_loaded=loaded,
                            rows_quarantined=bad + len(malformed), pans_masked=sum(pan_counts.values()),
                            extra_columns=extra)
        for column, n in sorted(pan_counts.items()):
            con.execute("insert into raw._pan_mask_audit values (?, ?, ?, ?)", [entity.name, path.name, column, n])
        con.execute("drop table _bad")
        con.execute("drop table _duplicate_keys")
        con.unregister("_source")
        if result.rows_read != result.rows_loaded + result.rows_quarantined:
            raise IngestError(f"{path.name}: conservation failed: read {result.rows_read}, loaded "
                              f"{result.rows_loaded}, quarantined {result.rows_quarantined}")
    con.execute("insert into raw._load_audit values (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
        result.entity, result.file, sha256(path) if path else None, result.rows_read, result.rows_loaded,
        result.rows_quarantined, result.pans_masked, ",".join(result.extra_columns), result.status])
    return result


def extract_cutoff(raw_dir: Path, as_of: str | None) -> str | None:
    """Events after this instant are future-dated: the as-of day's end, else the manifest's extracted_at.

    Both are parsed here, never pasted into SQL as given (a typo would surface as a DuckDB error, a quote as SQL).
    """
    if as_of:
        try:
            day = dt.date.fromisoformat(str(as_of))
        except ValueError:
            raise ValueError(f"as-of {as_of!r} is not a date; write it as YYYY-MM-DD") from None
        return f"{day.isoformat()} 23:59:59+00:00"
    manifest = raw_dir / "manifest.json"
    if manifest.exists():
        try:
            extracted_at = json.loads(manifest.read_text())["extracted_at"]
        except (ValueError, KeyError, TypeError):
            raise IngestError(f"{manifest.name}: not valid JSON with an 'extracted_at' field") from None
        try:
            instant = dt.datetime.fromisoformat(str(extracted_at))
        except ValueError:
            raise IngestError(f"{manifest.name}: extracted_at {str(extracted_at)[:40]!r} is not an ISO 8601 "
                              "timestamp such as 2026-04-01T06:00:00Z") from None
        if instant.tzinfo is None:  # read as UTC, as before
            instant = instant.replace(tzinfo=dt.UTC)
        return instant.astimezone(dt.UTC).isoformat(sep=" ")
    return None


def ingest(raw_dir: Path, con: duckdb.DuckDBPyConnection, as_of: str | None = None, progress=None) -> list[FileResult]:
    """Load every contract file of `raw_dir` into `con` (a fresh warehouse); returns one result per entity."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise IngestError(f"{raw_dir}: load folder not found")
    contract = load_contract()
    configure_session(con, SETTINGS.duckdb_memory_limit)
    create_audit_tables(con)
    cutoff = extract_cutoff(raw_dir, as_of)
    results = []
    for entity in contract.entities:
        if progress:
            progress(entity.name)
        if entity.name == "fx_rates" or any(c.currency for c in entity.columns):
            con.execute(f"create or replace temp table _currencies as select {sql_str(contract.reporting_currency)} "
                        "as currency" + (" union select distinct currency from raw.fx_rates"
                                         if entity.name != "fx_rates" else ""))
        results.append(load_entity(con, contract, entity, find_file(raw_dir, entity), cutoff))
    return results
