"""The whole pipeline behind `dunning build`: ingest -> dbt -> models -> atomic swap -> reports.

Everything is written into a new warehouse file; it replaces the previous one only when every step succeeded,
and reports are written only after that, so a failed run leaves the last good warehouse and reports untouched.
"""

from __future__ import annotations

import hashlib
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from data_quality.checks import run_quality_checks, write_results
from models_ml.retry.recommend import recommend_retries
from models_ml.worklist.build import build_worklist
from models_ml.worklist.status import daily_status
from pipelines.config import SETTINGS
from pipelines.dbt_runner import DbtRun, run_dbt
from pipelines.ingest import FileResult, ingest
from pipelines.warehouse import building, configure_session

log = logging.getLogger(__name__)
ENGINES = ("duckdb", "spark")


def spark_work_dir(warehouse: Path) -> Path:
    """Where a Spark build keeps its Parquet handover and output: next to the warehouse file."""
    return Path(warehouse).with_suffix(".spark")


@dataclass
class BuildResult:
    warehouse: Path
    as_of: str
    files: list[FileResult]
    dbt: DbtRun | None = None
    notes: list[str] = field(default_factory=list)
    risk: object = None
    forecast: object = None
    worklist: object = None
    retries: object = None
    quality: object = None
    status: dict | None = None
    reports: list[Path] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    peak_mb: dict[str, float] = field(default_factory=dict)  # the process's peak memory at the end of each step

    @property
    def rows_quarantined(self) -> int:
        return sum(f.rows_quarantined for f in self.files)


def last_data_date(con: duckdb.DuckDBPyConnection) -> str:
    """The as-of default: the last day with a posted money event or attempt in the load."""
    day = con.execute("""
        select max(d) from (
            select max(cast(posted_at as date)) as d from raw.invoices
            union all select max(cast(posted_at as date)) from raw.payments
            union all select max(cast(attempted_at as date)) from raw.payment_attempts)
    """).fetchone()[0]
    if day is None:
        raise ValueError("the load has no invoices, payments or attempts: nothing to build")
    return day.isoformat()


def inputs_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("select entity, coalesce(file_sha256, '') from raw._load_audit order by entity").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def run_build(raw_dir: Path, warehouse: Path, as_of: str | None = None,
              step: Callable[[str], None] | None = None, reports_dir: Path | None = None,
              seed: int = 0, engine: str = "duckdb") -> BuildResult:
    """Build a complete warehouse from one load folder; the previous warehouse is replaced only on success.

    engine "spark" runs the dbt part on Apache Spark (pipelines/spark.py); its Parquet output is kept in
    `spark_work_dir(warehouse)`.
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} (choose from {', '.join(ENGINES)})")
    timings: dict[str, float] = {}
    peaks: dict[str, float] = {}
    step = timed(step or (lambda _name: None), timings, peaks)
    docs_dir = Path(reports_dir) / "data_docs" if reports_dir is not None else None
    with building(warehouse) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            step("ingest")
            files = ingest(Path(raw_dir), con, as_of=as_of, progress=lambda e: step(f"ingest {e}"))
            as_of = as_of or last_data_date(con)
            con.execute("create table raw._build_info as select cast(? as date) as as_of_date, ? as inputs_sha256",
                        [as_of, inputs_fingerprint(con)])
            step("data quality: raw landings")
            raw_quality = run_quality_checks(con, "raw", docs_dir)
            write_results(con, raw_quality, as_of)
            raw_quality.raise_for_errors()  # an error stops the build before anything is published
        finally:
            con.close()
        result = BuildResult(Path(warehouse), as_of, files)
        if engine == "spark":
            from pipelines.spark import run_dbt_on_spark

            step("warehouse models (dbt build on Spark)")
            result.dbt = run_dbt_on_spark(tmp, as_of, spark_work_dir(warehouse))
        else:
            step("warehouse models (dbt build)")
            # Unit tests check the SQL on fixed inputs, not the data: `make test` runs them (dbt's advice for
            # production builds), every build runs the data tests.
            result.dbt = run_dbt(tmp, as_of, extra_args=["--exclude-resource-type", "unit_test"])
        con = duckdb.connect(str(tmp))
        try:
            configure_session(con, SETTINGS.duckdb_memory_limit)
            step("risk model: train, evaluate, score")
            result.risk = run_risk(con, as_of, seed, result.notes)
            step("cash forecasts: backtest, forecast, project")
            result.forecast = run_forecasts(con, as_of, result.notes, previous=Path(warehouse))
            step("retry recommendations")
            result.retries = run_optional(lambda: recommend_retries(con, as_of), "retry recommendations",
                                          result.notes)
            step("worklist: next actions, SLA clocks, priorities")
            result.worklist = build_worklist(con, as_of)
            result.status = daily_status(con, as_of)
            step("data quality: model outputs")
            model_quality = run_quality_checks(con, "models", docs_dir)
            write_results(con, model_quality, as_of)
            model_quality.raise_for_errors()
            result.quality = raw_quality + model_quality
        finally:
            con.close()
    step("reports")
    if reports_dir is not None:
        result.reports += write_reports(result, Path(reports_dir))
    step("done")
    result.timings = {k: v for k, v in timings.items() if k != "done"}
    result.peak_mb = peaks
    return result


def timed(step: Callable[[str], None], timings: dict[str, float],
          peaks: dict[str, float] | None = None) -> Callable[[str], None]:
    """Wrap a progress callback so each step's wall time is recorded (a step ends when the next starts)."""
    state = {"name": None, "started": time.perf_counter()}

    def advance(name: str):
        if not name.startswith("ingest "):  # "ingest <file>" only reports progress within the ingest step
            now = time.perf_counter()
            if state["name"] is not None:
                timings[state["name"]] = timings.get(state["name"], 0.0) + now - state["started"]
                if peaks is not None:  # peak so far: the step that raises it is the one that needs the memory
                    peaks[state["name"]] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            state.update(name=name, started=now)
        step(name)

    return advance


def run_risk(con, as_of: str, seed: int, notes: list[str]):
    from models_ml.risk.train import train_evaluate_score

    return run_optional(lambda: train_evaluate_score(con, as_of, seed=seed), "risk model", notes)


def run_forecasts(con, as_of: str, notes: list[str], previous: Path | None = None):
    from models_ml.forecasting import run_cash_forecasts

    return run_optional(lambda: run_cash_forecasts(con, as_of, previous, notes), "cash forecasts", notes)


def run_optional(fn, name: str, notes: list[str]):
    """A step whose absence a young book can live with: record why it was skipped and carry on."""
    try:
        return fn()
    except ValueError as exc:
        notes.append(f"{name} skipped: {exc}")
        log.info("%s skipped: %s", name, exc)
        return None


def write_reports(result: BuildResult, folder: Path) -> list[Path]:
    paths = []
    if result.risk is not None:
        from models_ml.risk.report import write_model_card

        run = result.risk
        paths.append(write_model_card(folder, run.metrics, run.test_frame, run.model, run.training_frame,
                                      result.as_of))
    if result.forecast is not None:
        from models_ml.forecasting import write_forecast_report

        paths.append(write_forecast_report(folder, result.forecast))
    if result.status is not None:
        from models_ml.worklist.exports import daily_status_html, daily_status_markdown

        folder.mkdir(parents=True, exist_ok=True)
        for name, render in (("daily_status.md", daily_status_markdown), ("daily_status.html", daily_status_html)):
            (folder / name).write_text(render(result.status))
            paths.append(folder / name)
    return paths
