"""Fixtures of the dashboard tests: one small built warehouse per session, and variants of it.

The warehouse is a generated book of 300 accounts x 6 months built by pipelines.build.run_build, in a child
process so that dbt's process-wide state (logging, environment) stays out of pytest. Variants are copies with a
table dropped or added, made once per session as well. Every fixture is read-only: tests never write to them.
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import duckdb
import pytest

APP_BOOK = {"accounts": 300, "months": 6, "seed": 11}
ROOT = Path(__file__).resolve().parents[2]
APP_FILE = ROOT / "dashboards" / "app.py"

_BUILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    from pipelines.build import run_build
    from pipelines.generator.book import generate_book
    from pipelines.generator.simulate import BookConfig

    raw, warehouse, accounts, months, seed = sys.argv[1:6]
    generate_book(Path(raw), BookConfig(accounts=int(accounts), months=int(months), seed=int(seed)), "csv")
    run_build(Path(raw), Path(warehouse))
""")


@pytest.fixture(scope="session")
def app_warehouse(request, tmp_path_factory) -> Path:
    """A complete warehouse (risk scores and worklist included) of a 300-account, 6-month book. Read-only."""
    reuse = os.environ.get("DUNNING_APP_TEST_WAREHOUSE")  # local iteration only: a warehouse built the same way
    if reuse:
        warehouse = tmp_path_factory.mktemp("app_warehouse") / "warehouse.duckdb"
        shutil.copyfile(reuse, warehouse)
        return warehouse
    return request.getfixturevalue("built_warehouse")


def _variant(source: Path, target: Path, *statements: str) -> Path:
    shutil.copyfile(source, target)
    con = duckdb.connect(str(target))
    try:
        for sql in statements:
            con.execute(sql)
        con.execute("checkpoint")
    finally:
        con.close()
    return target


@pytest.fixture(scope="session")
def warehouse_without_worklist(app_warehouse, tmp_path_factory) -> Path:
    """The app warehouse as it was before the worklist landed: risk scores only."""
    return _variant(app_warehouse, tmp_path_factory.mktemp("no_worklist") / "warehouse.duckdb",
                    "drop table if exists models.worklist", "drop table if exists models.worklist_items")


FORECAST_TABLES = ("cash_forecast", "cash_forecast_weekly", "forecast_backtest", "forecast_accuracy",
                   "ar_projection", "backlog_recovery", "forecast_log")
DROP_FORECASTS = [f"drop table if exists models.{t}" for t in FORECAST_TABLES]

FORECAST_SQL = """
    create schema if not exists models;
    create or replace table models.cash_forecast as
    with runs as (
        select cast(report_date as date) as forecast_date from reports.rpt_kpis_daily
        where report_date > (select max(report_date) from reports.rpt_kpis_daily) - 30
    ),
    days as (
        select forecast_date, cast(forecast_date + cast(h as integer) as date) as target_date, h
        from runs cross join range(1, 15) as t(h)
    ),
    level as (select avg(cash_collected) as mean_cash from reports.rpt_kpis_daily)
    select
        d.forecast_date, d.target_date, 'total' as series,
        l.mean_cash * (1 + 0.1 * sin(d.h)) as forecast,
        l.mean_cash * (1 + 0.1 * sin(d.h)) * 0.6 as lo_95,
        l.mean_cash * (1 + 0.1 * sin(d.h)) * 0.75 as lo_80,
        l.mean_cash * (1 + 0.1 * sin(d.h)) * 1.25 as hi_80,
        l.mean_cash * (1 + 0.1 * sin(d.h)) * 1.4 as hi_95
    from days as d cross join level as l
"""


@pytest.fixture(scope="session")
def warehouse_without_forecast(app_warehouse, tmp_path_factory) -> Path:
    """The app warehouse as it was before the forecasting step landed."""
    return _variant(app_warehouse, tmp_path_factory.mktemp("no_forecast") / "warehouse.duckdb", *DROP_FORECASTS)


@pytest.fixture(scope="session")
def warehouse_with_minimal_forecast(app_warehouse, tmp_path_factory) -> Path:
    """The app warehouse with only a stand-in models.cash_forecast in the minimal layout of issue 5
    (forecast_date, target_date, series, forecast, lo_80, hi_80, lo_95, hi_95; no model column, no backtest):
    14-day forecasts made on each of the last 30 days, so past forecasts meet actual cash."""
    return _variant(app_warehouse, tmp_path_factory.mktemp("minimal_forecast") / "warehouse.duckdb",
                    *DROP_FORECASTS, FORECAST_SQL)


@pytest.fixture(scope="session")
def warehouse_with_kept_forecasts(app_warehouse, tmp_path_factory) -> Path:
    """The app warehouse as if builds had also run 14 and 28 days earlier: the forecast log holds today's forecast
    and two earlier ones (today's, moved back), whose target days have partly come in."""
    earlier = """
        insert into models.forecast_log
        select cast(forecast_date - {days} as date), series_id, model, cast(target_date - {days} as date),
               horizon_days, forecast, lo_80, hi_80, lo_95, hi_95
        from models.forecast_log where forecast_date = (select max(forecast_date) from models.forecast_log)"""
    return _variant(app_warehouse, tmp_path_factory.mktemp("kept_forecasts") / "warehouse.duckdb",
                    earlier.format(days=28), earlier.format(days=14))


@pytest.fixture()
def use_warehouse(monkeypatch):
    """use_warehouse(path): point the app (env DUNNING_WAREHOUSE) at this file for the test."""

    def point(path: Path) -> Path:
        monkeypatch.setenv("DUNNING_WAREHOUSE", str(path))
        return path

    return point
