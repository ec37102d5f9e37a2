"""Run the expectation suites of one stage against a warehouse, gate the build on errors, record the results.

    report = run_quality_checks(con, "raw", data_docs_dir)   # aggregates in DuckDB, validates frames with GX
    write_results(con, report, as_of)                       # quality.validation_results, deterministic
    report.raise_for_errors()                               # QualityGateError when an error check failed

great_expectations is imported only when a suite actually runs (its import takes seconds), so importing this
module, and `dunning --help`, stay fast.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import numbers
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from data_quality.suites import ERROR, STAGES, WARNING, Check, Suite, suites_for, to_gx_suite

log = logging.getLogger(__name__)

PASSED, FAILED, SKIPPED = "passed", "failed", "skipped"
RESULTS_TABLE = "quality.validation_results"
PARTIAL_ROWS = 5  # rows of a multi-row frame quoted in the details


class QualityGateError(ValueError):
    """A failed error-severity check: the build must not publish. The message is one line."""

    def __init__(self, report: QualityReport):
        self.report = report
        shown = "; ".join(f"{r.suite}.{r.expectation} (observed {r.observed_value})" for r in report.errors[:5])
        more = f" and {len(report.errors) - 5} more" if len(report.errors) > 5 else ""
        where = f"; details in {report.docs_path}" if report.docs_path else ""
        super().__init__(f"data quality ({report.stage}): {len(report.errors)} error check(s) failed: "
                         f"{shown}{more}{where}")


@dataclass(frozen=True)
class ResultRow:
    """One expectation of one suite: the grain of quality.validation_results."""

    stage: str
    suite: str
    expectation: str  # the check's stable name
    expectation_type: str  # the GX expectation behind it
    table_name: str
    column_name: str | None
    severity: str
    status: str  # passed | failed | skipped
    success: bool | None  # None when skipped
    observed_value: str
    observed_number: float | None
    details: str
    description: str


@dataclass
class QualityReport:
    """Per-expectation results of one stage (or of several, added together)."""

    stage: str
    rows: list[ResultRow]
    as_of: str | None = None
    elapsed_seconds: float = 0.0
    docs_path: Path | None = None
    stages: tuple[str, ...] = field(default=())

    def __post_init__(self):
        if not self.stages:
            self.stages = (self.stage,)

    @property
    def errors(self) -> list[ResultRow]:
        """Failed error-severity checks: any one stops the build."""
        return [r for r in self.rows if r.status == FAILED and r.severity == ERROR]

    @property
    def warnings(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == FAILED and r.severity == WARNING]

    @property
    def skipped(self) -> list[ResultRow]:
        return [r for r in self.rows if r.status == SKIPPED]

    def row(self, suite: str, expectation: str) -> ResultRow:
        for r in self.rows:
            if r.suite == suite and r.expectation == expectation:
                return r
        raise KeyError(f"{suite}.{expectation}")

    def frame(self) -> pd.DataFrame:
        """One row per expectation, in suite-definition order."""
        return pd.DataFrame([asdict(r) for r in self.rows], columns=list(ResultRow.__dataclass_fields__))

    def summary(self) -> str:
        passed = sum(r.status == PASSED for r in self.rows)
        return (f"data quality ({self.stage}): {len(self.rows)} checks, {passed} passed, {len(self.errors)} "
                f"error(s), {len(self.warnings)} warning(s), {len(self.skipped)} skipped "
                f"in {self.elapsed_seconds:.1f} s")

    def raise_for_errors(self) -> None:
        if self.errors:
            raise QualityGateError(self)

    def __add__(self, other: QualityReport) -> QualityReport:
        stages = tuple(dict.fromkeys(self.stages + other.stages))
        return QualityReport("+".join(stages), self.rows + other.rows, self.as_of or other.as_of,
                             self.elapsed_seconds + other.elapsed_seconds, None, stages)


# ---------------------------------------------------------------------------------- formatting
def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def format_value(value: Any) -> str:
    """Deterministic text for a value in results: integers plain, floats to 6 significant digits."""
    if _is_missing(value):
        return "n/a"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, np.datetime64 | pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        return stamp.date().isoformat() if stamp == stamp.normalize() and stamp.tz is None else stamp.isoformat()
    if hasattr(value, "item") and not isinstance(value, str | bytes):  # numpy scalars
        value = value.item()
        if isinstance(value, bool):
            return str(value).lower()
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real | Decimal):
        number = float(value)
        if math.isnan(number):
            return "n/a"
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else f"{number:.6g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _number(value: Any) -> float | None:
    if _is_missing(value) or isinstance(value, bool | str):
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, numbers.Real | Decimal) and not isinstance(value, bool):
        number = float(value)
        return None if math.isnan(number) else number
    return None


def _template_values(record: dict[str, Any]) -> dict[str, str]:
    """Frame values for a details template; <x>_examples becomes '; e.g. a, b' or nothing."""
    values = {}
    for name, value in record.items():
        if name.endswith("_examples"):
            values[name] = "" if _is_missing(value) else f"; e.g. {value}"
        else:
            values[name] = format_value(value)
    return values


# ---------------------------------------------------------------------------------- running
@contextlib.contextmanager
def _cursor(con_or_path: duckdb.DuckDBPyConnection | str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the caller's connection, or a read-only connection to a path; closed afterwards."""
    if isinstance(con_or_path, duckdb.DuckDBPyConnection):
        cursor = con_or_path.cursor()
    else:
        path = Path(con_or_path)
        if not path.exists():
            raise FileNotFoundError(f"{path}: warehouse not found")
        cursor = duckdb.connect(str(path), read_only=True)
    try:
        yield cursor
    finally:
        cursor.close()


def _columns(cursor: duckdb.DuckDBPyConnection, qualified: str) -> set[str] | None:
    """Column names of schema.table in the current database, or None when the table does not exist."""
    schema, _, table = qualified.partition(".")
    rows = cursor.execute("""
        select column_name from duckdb_columns()
        where database_name = current_database() and schema_name = ? and table_name = ?
    """, [schema, table]).fetchall()
    return {r[0] for r in rows} or None


def _as_of(cursor: duckdb.DuckDBPyConnection) -> str | None:
    if _columns(cursor, "raw._build_info") is None:
        return None
    day = cursor.execute("select max(as_of_date) from raw._build_info").fetchone()[0]
    return day.isoformat() if day else None


def _row(stage: str, suite: Suite, check: Check, status: str, success: bool | None, observed: Any,
         details: str) -> ResultRow:
    return ResultRow(stage=stage, suite=suite.name, expectation=check.name,
                     expectation_type=_snake(check.expectation), table_name=check.table, column_name=check.column,
                     severity=check.severity, status=status, success=success,
                     observed_value="" if status == SKIPPED and _is_missing(observed) else format_value(observed),
                     observed_number=_number(observed), details=details, description=check.description)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


def _gx_context():
    """An ephemeral GX context with a pandas datasource; no analytics, no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    # GX pins this logger at INFO and announces a temporary docs folder on every context: not for our users.
    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context, context.data_sources.add_pandas("dunning_desk_quality")


def _validate(source, suite: Suite, frame: pd.DataFrame) -> dict[str, Any]:
    """GX results of `suite` on `frame`, by check name."""
    asset = source.add_dataframe_asset(name=suite.name)
    batch = asset.add_batch_definition_whole_dataframe(f"{suite.name}_frame").get_batch(
        batch_parameters={"dataframe": frame})
    result_format: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": PARTIAL_ROWS}
    if suite.index_columns:
        result_format["unexpected_index_column_names"] = list(suite.index_columns)
    validation = batch.validate(to_gx_suite(suite), result_format=result_format)
    return {r.expectation_config.meta["check"]: r for r in validation.results}


def _interpret(stage: str, suite: Suite, check: Check, result, frame: pd.DataFrame) -> ResultRow:
    """Turn one GX result into a report row; the severity comes from the expectation's meta."""
    severity = result.expectation_config.meta.get("severity")
    if severity != check.severity:  # the suite definition is the only source of severity
        raise RuntimeError(f"{suite.name}.{check.name}: severity {severity!r} lost on the way through GX")
    info = result.exception_info or {}
    if info.get("raised_exception"):
        message = (info.get("exception_message") or "unknown error").splitlines()[0]
        return _row(stage, suite, check, FAILED, False, None, f"could not evaluate: {message}")
    outcome = result.result or {}
    one_row = len(frame) == 1
    column = check.kwargs.get("column")
    record = {c: frame[c].iloc[0] for c in frame.columns} if one_row else {}
    if "observed_value" in outcome:
        observed = outcome["observed_value"]
    elif one_row and column:
        observed = record[column]
    else:
        observed = f"{outcome.get('unexpected_count', 0)} of {outcome.get('element_count', 0)} {suite.row_noun}"
    if one_row and check.details:
        details = check.details.format_map(_template_values(record))
    elif not one_row and outcome.get("unexpected_count"):
        details = _partial(suite, outcome)
    else:
        details = ""
    if result.success and one_row and column and _is_missing(record[column]):
        return _row(stage, suite, check, SKIPPED, None, None, f"nothing to measure: {details}")
    return _row(stage, suite, check, PASSED if result.success else FAILED, bool(result.success), observed,
                details)


def _partial(suite: Suite, outcome: dict[str, Any]) -> str:
    """'2 of 5 forecast runs: forecast_date 2026-01-31 (missing_target_count 3); ...' from a GX SUMMARY result."""
    parts = []
    for item in outcome.get("partial_unexpected_index_list") or []:
        if isinstance(item, dict):
            key = ", ".join(f"{c} {format_value(item.get(c))}" for c in suite.index_columns)
            rest = ", ".join(f"{c} {format_value(v)}" for c, v in item.items() if c not in suite.index_columns)
            parts.append(f"{key} ({rest})")
    if not parts:
        parts = [format_value(v) for v in outcome.get("partial_unexpected_list") or []]
    return f"{outcome['unexpected_count']} of {outcome['element_count']} {suite.row_noun}: " + "; ".join(parts)


def run_quality_checks(con_or_path: duckdb.DuckDBPyConnection | str | Path, stage: str,
                       data_docs_dir: Path | None = None) -> QualityReport:
    """Run every suite of `stage` ("raw" or "models") on a warehouse; returns one row per expectation.

    A suite whose table is absent is recorded as skipped; one whose table lacks a required column fails every
    check (the names in data_quality/suites.py need adjusting). With `data_docs_dir`, an HTML page is written
    there before returning, so it exists even when the caller then stops the build.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown data-quality stage {stage!r}; expected one of {', '.join(STAGES)}")
    started = time.perf_counter()
    rows: list[ResultRow] = []
    with _cursor(con_or_path) as cursor:
        as_of = _as_of(cursor)
        source = None
        for suite in suites_for(stage):
            problem = None
            for table, needed in suite.requires.items():
                present = _columns(cursor, table)
                if present is None:
                    problem = (SKIPPED, f"{table} is not in the warehouse")
                    break
                missing = [c for c in needed if c not in present]
                if missing:
                    problem = (FAILED, f"{table} lacks column(s) {', '.join(missing)}: adjust the names in "
                                       "data_quality/suites.py")
                    break
            if problem:
                status, why = problem
                rows += [_row(stage, suite, c, status, None if status == SKIPPED else False, None, why)
                         for c in suite.checks]
                continue
            try:
                frame = cursor.execute(suite.sql).df()
            except duckdb.Error as exc:  # e.g. a model table whose column types changed
                why = f"could not evaluate: {str(exc).splitlines()[0]}"
                rows += [_row(stage, suite, c, FAILED, False, None, why) for c in suite.checks]
                continue
            if source is None:
                _, source = _gx_context()
            results = _validate(source, suite, frame)
            rows += [_interpret(stage, suite, c, results[c.name], frame) for c in suite.checks]
    report = QualityReport(stage, rows, as_of, time.perf_counter() - started)
    if data_docs_dir is not None:
        from data_quality.docs import render_data_docs

        report.docs_path = render_data_docs(report, Path(data_docs_dir))
    log.info(report.summary())
    return report


# ---------------------------------------------------------------------------------- recording
RESULTS_COLUMNS = """
    as_of_date date,
    stage varchar,
    ordinal integer,
    suite varchar,
    expectation varchar,
    expectation_type varchar,
    table_name varchar,
    column_name varchar,
    severity varchar,
    status varchar,
    success boolean,
    observed_value varchar,
    observed_number double,
    details varchar,
    description varchar
"""


def write_results(con: duckdb.DuckDBPyConnection, report: QualityReport, as_of: str | dt.date | None) -> int:
    """Create quality.validation_results if needed and replace the rows of the report's stage(s); returns rows.

    One row per expectation per stage; content depends only on the data and the suites (no wall-clock time),
    so two runs on the same warehouse write identical tables. Writing the raw and the models report one after
    the other keeps both; writing a stage again replaces its rows.
    """
    as_of_date = dt.date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    con.execute("create schema if not exists quality")
    con.execute(f"create table if not exists {RESULTS_TABLE} ({RESULTS_COLUMNS})")
    con.execute(f"delete from {RESULTS_TABLE} where stage in (select unnest(?))", [list(report.stages)])
    ordinals: dict[str, int] = {}
    values = []
    for r in report.rows:
        ordinals[r.stage] = ordinals.get(r.stage, 0) + 1
        values.append([as_of_date, r.stage, ordinals[r.stage], r.suite, r.expectation, r.expectation_type,
                       r.table_name, r.column_name, r.severity, r.status, r.success, r.observed_value,
                       r.observed_number, r.details, r.description])
    if values:
        con.executemany(f"insert into {RESULTS_TABLE} values ({', '.join('?' * 15)})", values)
    return len(values)
