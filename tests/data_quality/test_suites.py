"""The data-quality layer on a small generated book: clean data passes, each corruption fails its own check."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from data_quality.checks import QualityGateError, QualityReport, run_quality_checks, write_results
from data_quality.docs import render_page
from data_quality.suites import (
    CASH_FORECAST_TABLE,
    ERROR,
    RISK_PROBABILITY_COLUMN,
    RISK_SCORES_TABLE,
    WARNING,
    suites_for,
)

pytestmark = pytest.mark.slow

SCRIPT = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def clean_warehouse(built_warehouse) -> Path:
    """The session's fully built small book (read-only; tests change copies)."""
    return built_warehouse


def corrupted(tmp_path: Path, clean: Path, *statements: str) -> Path:
    """A copy of the clean warehouse with `statements` applied."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copyfile(clean, path)
    con = duckdb.connect(str(path))
    try:
        for sql in statements:
            con.execute(sql)
    finally:
        con.close()
    return path


def failed(report: QualityReport) -> set[str]:
    return {r.expectation for r in report.rows if r.status == "failed"}


def assert_fails(report: QualityReport, suite: str, expectation: str, severity: str):
    row = report.row(suite, expectation)
    assert row.status == "failed" and row.success is False, row
    assert row.severity == severity
    assert (row in report.errors) == (severity == ERROR)
    assert (row in report.warnings) == (severity == WARNING)
    return row


# ------------------------------------------------------------------------------------------- clean data
def test_clean_book_passes_every_error_check(clean_warehouse, tmp_path):
    raw = run_quality_checks(clean_warehouse, "raw", tmp_path / "docs")
    assert raw.errors == []
    assert [r.expectation for r in raw.rows] == [c.name for s in suites_for("raw") for c in s.checks]
    assert {r.status for r in raw.rows} <= {"passed", "skipped"}
    assert all(r.severity in (ERROR, WARNING) for r in raw.rows)
    assert raw.as_of is not None
    raw.raise_for_errors()
    assert raw.docs_path == tmp_path / "docs" / "quality_raw.html" and raw.docs_path.exists()
    assert (tmp_path / "docs" / "index.html").exists()


def test_model_suites_are_skipped_while_their_tables_are_absent(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, *DROP_MODEL_TABLES)
    report = run_quality_checks(path, "models", None)
    assert report.rows and {r.status for r in report.rows} == {"skipped"}
    assert report.errors == [] and report.docs_path is None
    assert all("not in the warehouse" in r.details for r in report.rows)


def test_unknown_stage_is_refused(clean_warehouse):
    with pytest.raises(ValueError, match="stage"):
        run_quality_checks(clean_warehouse, "marts", None)


# ------------------------------------------------------------------------------------------- raw corruptions
def test_invoices_in_another_currency_fail_the_currency_check(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, """
        update raw.invoices set currency = case when currency = 'USD' then 'EUR' else 'USD' end
        where invoice_id in (
            select invoice_id from (
                select invoice_id, row_number() over (order by invoice_id) as n from raw.invoices)
            where n % 5 = 0)
    """)
    report = run_quality_checks(path, "raw", None)
    row = assert_fails(report, "raw_consistency", "invoice_currency_matches_account", ERROR)
    assert row.observed_number == pytest.approx(0.2, abs=0.01)
    assert "invoices differ from the account currency; e.g. " in row.details
    assert failed(report) == {"invoice_currency_matches_account"}
    with pytest.raises(QualityGateError, match="invoice_currency_matches_account"):
        report.raise_for_errors()


def test_disputes_closed_before_opened_fail_and_docs_escape_values(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, f"""
        insert into raw.disputes (dispute_id, payment_id, account_id, network, reason_code, amount, currency,
                                  opened_at, closed_at, status)
        select '{SCRIPT}', payment_id, account_id, 'visa', '10.4', amount, currency,
               posted_at + interval 3 day, posted_at + interval 1 day, 'lost'
        from raw.payments order by payment_id limit 1
    """, "update raw.disputes set closed_at = opened_at - interval 2 day where closed_at is not null")
    docs = tmp_path / "docs"
    report = run_quality_checks(path, "raw", docs)
    row = assert_fails(report, "raw_date_order", "dispute_closed_not_before_opened", ERROR)
    assert SCRIPT in row.details  # the offending key is quoted ...
    page = report.docs_path.read_text(encoding="utf-8")
    assert "<script" not in page.lower()  # ... but never as markup
    assert html_escaped(SCRIPT) in page
    assert "<script" not in (docs / "index.html").read_text(encoding="utf-8").lower()


def html_escaped(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def test_cases_closed_before_opened_fail(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse,
                     "update raw.cases set closed_at = opened_at - interval 1 hour where closed_at is not null")
    assert_fails(run_quality_checks(path, "raw", None), "raw_date_order", "case_closed_not_before_opened", ERROR)


def test_duplicate_payment_of_one_attempt_fails(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, """
        insert into raw.payments
        select * replace (payment_id || '-dup' as payment_id)
        from raw.payments where attempt_id is not null order by payment_id limit 3
    """)
    report = run_quality_checks(path, "raw", None)
    row = assert_fails(report, "raw_consistency", "succeeded_attempt_single_payment", ERROR)
    assert row.observed_number == 3


def test_an_invoice_posted_before_its_date_is_only_a_warning(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, """
        update raw.invoices set posted_at = cast(invoice_date as timestamp) - interval 5 day
        where invoice_id = (select min(invoice_id) from raw.invoices)
    """)
    report = run_quality_checks(path, "raw", None)
    assert_fails(report, "raw_date_order", "invoice_posted_not_before_invoice_date", WARNING)
    assert report.errors == []
    report.raise_for_errors()


def test_a_distribution_with_nothing_to_measure_is_skipped(clean_warehouse, tmp_path):
    path = corrupted(tmp_path, clean_warehouse, "delete from raw.payment_attempts")  # the file is optional
    report = run_quality_checks(path, "raw", None)
    row = report.row("raw_distributions", "failed_card_share_in_band")
    assert row.status == "skipped" and row.success is None
    assert row.details.startswith("nothing to measure: 0 failed of 0")
    assert report.errors == []


# ------------------------------------------------------------------------------------------- model outputs
DROP_MODEL_TABLES = [f"drop table if exists {RISK_SCORES_TABLE}", f"drop table if exists {CASH_FORECAST_TABLE}"]


def model_tables(risk_values: str, forecast_rows: str) -> list[str]:
    """Replace the build's model tables with hand-made ones (one forecast series and model)."""
    return [
        *DROP_MODEL_TABLES,
        f"create schema if not exists {RISK_SCORES_TABLE.split('.')[0]}",
        f"create table {RISK_SCORES_TABLE} as select * from (values {risk_values}) "
        f"as t(invoice_id, {RISK_PROBABILITY_COLUMN})",
        f"create table {CASH_FORECAST_TABLE} as select cast(forecast_date as date) as forecast_date, "
        "'total' as series_id, 'reconciled' as model, "
        "cast(target_date as date) as target_date, forecast, lo_80, hi_80, lo_95, hi_95 "
        f"from (values {forecast_rows}) as t(forecast_date, target_date, forecast, lo_80, hi_80, lo_95, hi_95)",
    ]


def forecast_run(day: str, horizon: int, value: float = 100.0) -> list[str]:
    return [f"('{day}', date '{day}' + interval {h} day, {value}, {value * 0.8}, {value * 1.2}, "
            f"{value * 0.6}, {value * 1.4})" for h in range(1, horizon + 1)]


def test_clean_model_outputs_pass(clean_warehouse, tmp_path):
    rows = ", ".join(forecast_run("2026-03-31", 5) + forecast_run("2026-04-30", 5))
    path = corrupted(tmp_path, clean_warehouse, *model_tables("('INV-1', 0.0), ('INV-2', 0.4), ('INV-3', 1.0)",
                                                              rows))
    report = run_quality_checks(path, "models", None)
    assert {r.status for r in report.rows} == {"passed"}, report.frame()


def test_bad_model_outputs_fail_their_checks(clean_warehouse, tmp_path):
    rows = forecast_run("2026-03-31", 5) + forecast_run("2026-04-30", 3) + forecast_run("2026-05-31", 5, -10.0)
    path = corrupted(tmp_path, clean_warehouse,
                     *model_tables("('INV-1', 0.2), ('INV-2', 1.3), ('INV-3', -0.1)", ", ".join(rows)))
    report = run_quality_checks(path, "models", tmp_path / "docs")
    risk = assert_fails(report, "model_risk_scores", "risk_probability_in_unit_interval", ERROR)
    assert risk.observed_number == 2 and "max 1.3" in risk.details
    horizon = assert_fails(report, "model_cash_forecast", "forecast_horizon_complete", ERROR)
    assert "forecast_date 2026-04-30" in horizon.details
    negative = assert_fails(report, "model_cash_forecast", "forecast_not_negative", ERROR)
    assert "forecast_date 2026-05-31" in negative.details
    assert_fails(report, "model_cash_forecast", "forecast_lower_bounds_not_negative", WARNING)
    # lo/hi bounds of a negative forecast scale the wrong way round: the intervals are no longer nested
    assert_fails(report, "model_cash_forecast", "forecast_intervals_nested", ERROR)
    assert report.row("model_cash_forecast", "forecast_target_dates_unique").status == "passed"
    assert report.docs_path.exists()


@pytest.mark.parametrize(("select", "message"), [
    ("0.5 as probability", f"lacks column(s) {RISK_PROBABILITY_COLUMN}"),
    (f"'high' as {RISK_PROBABILITY_COLUMN}", "could not evaluate"),
])
def test_a_model_table_of_another_shape_fails_loudly(clean_warehouse, tmp_path, select, message):
    path = corrupted(tmp_path, clean_warehouse, *DROP_MODEL_TABLES,
                     f"create table {RISK_SCORES_TABLE} as select 'INV-1' as invoice_id, {select}")
    report = run_quality_checks(path, "models", None)
    risk = [r for r in report.rows if r.suite == "model_risk_scores"]
    assert {r.status for r in risk} == {"failed"}
    assert all(message in r.details for r in risk)
    assert any(r.severity == ERROR for r in risk) and report.errors


# ------------------------------------------------------------------------------------------- recording
def recorded(report: QualityReport, *more: QualityReport, as_of: str = "2026-04-30") -> list[tuple]:
    con = duckdb.connect()
    for r in (report, *more):
        write_results(con, r, as_of)
    rows = con.execute("select * from quality.validation_results order by stage, ordinal").fetchall()
    con.close()
    return rows


def test_write_results_is_deterministic(clean_warehouse):
    first = run_quality_checks(clean_warehouse, "raw", None)
    con = duckdb.connect(str(clean_warehouse), read_only=True)
    try:
        second = run_quality_checks(con, "raw", None)  # an open connection works like a path
    finally:
        con.close()
    assert recorded(first) == recorded(second)
    assert len(recorded(first)) == len(first.rows)
    assert render_page(first) == render_page(second)


def test_a_new_raw_run_removes_model_pages_of_an_earlier_build(clean_warehouse, tmp_path):
    docs = tmp_path / "docs"
    models = run_quality_checks(clean_warehouse, "models", docs)
    assert models.docs_path.exists()
    raw = run_quality_checks(clean_warehouse, "raw", docs)
    assert not models.docs_path.exists() and raw.docs_path.exists()
    assert sorted(p.name for p in docs.iterdir()) == ["index.html", "quality_raw.html"]


def test_write_results_keeps_both_stages_and_replaces_a_rewritten_stage(clean_warehouse):
    raw = run_quality_checks(clean_warehouse, "raw", None)
    models = run_quality_checks(clean_warehouse, "models", None)
    rows = recorded(raw, models, raw)
    assert len(rows) == len(raw.rows) + len(models.rows)
    assert recorded(raw + models) == rows
    as_of, stage, ordinal = rows[0][:3]
    assert str(as_of) == "2026-04-30" and stage == "models" and ordinal == 1


def test_importing_the_layer_does_not_import_great_expectations():
    code = ("import sys, data_quality.checks, data_quality.suites, data_quality.docs; "
            "sys.exit('great_expectations' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
