"""`dunning`: the one command-line entry point of Dunning Desk."""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.config import PROJECT_ROOT, SETTINGS

app = typer.Typer(
    help="Dunning Desk: collections analytics and forecasting from the extracts you already have.\n\n"
         "Example: dunning demo --no-serve",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console(stderr=False)
err = Console(stderr=True)


class UserError(Exception):
    """An expected failure: printed as one line plus a hint, exit code 1."""

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.hint = hint


@contextlib.contextmanager
def steps(total: int | None = None):
    """A rich progress bar whose advance() takes the name of the step starting now."""
    with Progress(SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
                  console=err, transient=False, disable=not err.is_terminal) as progress:
        task = progress.add_task("starting", total=total)

        def advance(name: str):
            progress.update(task, description=name, advance=1)

        yield advance
        progress.update(task, description="done", completed=total)


def fail(exc: Exception, hint: str = "") -> None:
    err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
    if hint:
        err.print(f"[dim]hint: {escape(hint)}[/dim]", highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def run_safely(fn, *args, **kwargs):
    """Turn every failure into one clear line: expected ones with a hint, unexpected ones with their type."""
    from pipelines.dbt_runner import DbtError
    from pipelines.ingest import IngestError
    from pipelines.spark import SparkUnavailable

    try:
        return fn(*args, **kwargs)
    except typer.Exit:
        raise
    except UserError as exc:
        fail(exc, exc.hint)
    except IngestError as exc:
        fail(exc, "fix the file (docs/raw_contract.md says what each column must hold) and run again; "
                  "the previous warehouse was not touched")
    except DbtError as exc:
        fail(exc, "see dbt_project/logs/dbt.log for the full dbt output; the previous warehouse was not touched")
    except SparkUnavailable as exc:
        fail(exc, "or build with --engine duckdb (the default); the previous warehouse was not touched")
    except (ValueError, OSError) as exc:
        fail(exc, "the previous warehouse was not touched")
    except Exception as exc:  # noqa: BLE001 - the CLI never shows a traceback
        if "--debug" in sys.argv:
            raise
        fail(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug for the full traceback")


# ----------------------------------------------------------------------------------------------- generate
@app.command()
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the load into (created if missing)."),
    accounts: int = typer.Option(SETTINGS.demo_accounts, min=1, help="Number of customer accounts."),
    months: int = typer.Option(SETTINGS.demo_months, min=1, max=120, help="Months of history."),
    seed: int = typer.Option(SETTINGS.demo_seed, help="Random seed: the same seed gives the same book."),
    fmt: str = typer.Option("csv", "--format", help="File format: csv or parquet."),
    end_date: str = typer.Option("2026-10-31", help="Last day of the book (YYYY-MM-DD)."),
    report: bool = typer.Option(False, "--report", help="Print realism statistics next to their target bands."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Generate a synthetic receivables book: every contract file plus truth/ (for evaluation only).

    Example: dunning generate --out data/book --accounts 5000 --months 12 --seed 1 --report
    """
    run_safely(_generate, out, accounts, months, seed, fmt, end_date, report)


def _generate(out, accounts, months, seed, fmt, end_date, report):
    from pipelines.generator.book import generate_book
    from pipelines.generator.simulate import BookConfig

    if fmt not in ("csv", "parquet"):
        raise UserError(f"unknown format {fmt!r}", "use --format csv or --format parquet")
    started = time.perf_counter()
    with steps(2) as step:
        step(f"simulating {accounts:,} accounts x {months} months")
        rows = generate_book(out, BookConfig(accounts=accounts, months=months, seed=seed, end_date=end_date), fmt)
    console.print(f"wrote {sum(rows.values()):,} rows in {len(rows)} files to {out} "
                  f"({time.perf_counter() - started:.1f} s); truth/ is for evaluation only")
    if report:
        print_realism(out)


def print_realism(folder: Path):
    from pipelines.generator.realism import read_book, realism_stats

    if not (Path(folder) / "accounts.csv").exists() and not (Path(folder) / "accounts.parquet").exists():
        raise UserError(f"{folder}: not a generated book (no accounts file)",
                        "point it at a folder written by: dunning generate --out DIR")
    table = Table(title=f"Realism of {folder}")
    for col in ("statistic", "value", "target band", "", "source"):
        table.add_column(col)
    stats = realism_stats(read_book(folder))
    for s in stats:
        table.add_row(s.name, f"{s.value:.4g}", f"{s.low:g} - {s.high:g}", "ok" if s.ok else "[red]OUT[/red]",
                      s.source)
    console.print(table)
    console.print(f"{sum(s.ok for s in stats)} of {len(stats)} statistics inside their bands")


@app.command()
def inspect(folder: Path = typer.Argument(..., help="A generated load folder (with truth/).")):
    """Print the realism statistics of a generated book next to the target bands.

    Example: dunning inspect demo_data/raw
    """
    run_safely(print_realism, folder)


# ----------------------------------------------------------------------------------------------- ingest
@app.command()
def ingest(
    raw: Path = typer.Option(..., "--raw", help="Load folder: one <entity>.csv or .parquet per contract entity."),
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="DuckDB file to create or replace."),
    as_of: str = typer.Option(None, help="Events after this day are quarantined as future-dated."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Validate and load a raw extract into the warehouse's raw schema (bad rows go to raw._quarantine).

    Example: dunning ingest --raw demo_data/raw --warehouse build/warehouse.duckdb
    """
    run_safely(_ingest, raw, warehouse, as_of)


def _ingest(raw, warehouse, as_of):
    import duckdb

    from pipelines.contract import load_contract
    from pipelines.ingest import ingest as ingest_folder
    from pipelines.warehouse import building

    with steps(len(load_contract().entities)) as step, building(warehouse) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            results = ingest_folder(raw, con, as_of=as_of, progress=step)
        finally:
            con.close()
    print_load_summary(results, warehouse)


def print_load_summary(results, warehouse: Path):
    table = Table(title=f"Loaded into {warehouse}")
    for col in ("entity", "file", "read", "loaded", "quarantined", "cards masked"):
        table.add_column(col, justify="right" if col in ("read", "loaded", "quarantined", "cards masked") else "left")
    for r in results:
        table.add_row(r.entity, r.file or f"[dim]{r.status}[/dim]", f"{r.rows_read:,}", f"{r.rows_loaded:,}",
                      f"{r.rows_quarantined:,}", f"{r.pans_masked:,}")
    console.print(table)
    quarantined = sum(r.rows_quarantined for r in results)
    if quarantined:
        console.print(f"{quarantined:,} rows quarantined: see raw._quarantine (file, row, column, reason)")


# ----------------------------------------------------------------------------------------------- build
@app.command()
def build(
    raw: Path = typer.Option(..., "--raw", help="Load folder to build from."),
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="DuckDB file to create or replace atomically."),
    as_of: str = typer.Option(None, help="As-of date (YYYY-MM-DD); default: the last date in the data."),
    reports: Path = typer.Option(SETTINGS.reports_dir, help="Folder for the model card and other reports."),
    engine: str = typer.Option("duckdb", help="Where the dbt models run: duckdb, or spark (Apache Spark in local "
                                              "mode: Java 17 and the [spark] extra; output kept in WAREHOUSE.spark/)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Run the whole pipeline: ingest, warehouse models, checks and outputs; swap in only on success.

    Example: dunning build --raw demo_data/raw --warehouse build/warehouse.duckdb --as-of 2026-10-31
    """
    run_safely(_build, raw, warehouse, as_of, reports, engine)


def _build(raw, warehouse, as_of, reports=SETTINGS.reports_dir, engine="duckdb"):
    from pipelines.build import run_build

    if as_of:
        _check_date(as_of)
    started = time.perf_counter()
    with steps() as step:
        result = run_build(raw, warehouse, as_of=as_of, step=step, reports_dir=reports, engine=engine)
    print_load_summary(result.files, warehouse)
    if result.dbt is not None:
        console.print(f"dbt on {engine}: {result.dbt.summary()}")
    for note in result.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if result.risk is not None:
        model = result.risk.metrics.set_index("scorer").loc["model"]
        console.print(f"risk model: {len(result.risk.scores):,} open items scored; held-out ROC AUC "
                      f"{model['roc_auc']:.3f}, ECE {model['ece']:.3f}")
    for path in result.reports:
        console.print(f"report: {path}")
    console.print("step times: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items()))
    console.print(f"built {warehouse} as of {result.as_of} in {time.perf_counter() - started:.1f} s")
    return result


# ----------------------------------------------------------------------------------------------- worklist
def _open_warehouse(warehouse: Path):
    from models_ml.io import connect, table_exists

    if not Path(warehouse).exists():
        raise UserError(f"{warehouse}: warehouse not found",
                        "build one first: dunning build --raw DIR --warehouse FILE")
    con = connect(warehouse)
    if not table_exists(con, "models", "worklist"):
        con.close()
        raise UserError(f"{warehouse}: no worklist in this warehouse", "rebuild it with: dunning build --raw DIR")
    return con


@app.command()
def worklist(
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="A built warehouse."),
    out: Path = typer.Option(..., "--out", help="FILE.csv or FILE.xlsx (spreadsheet-safe: no formulas)."),
    collector: str = typer.Option(None, help="Only this collector's accounts."),
    top: int = typer.Option(None, min=1, help="Only the first N accounts by priority."),
    items: bool = typer.Option(False, "--items", help="One row per open item instead of per account."),
    balance: bool = typer.Option(False, "--balance", help="Spread accounts over collectors up to capacity."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Export today's risk-ranked worklist: next SOP action, template, reasons, SLA and promise flags.

    Example: dunning worklist --warehouse build/warehouse.duckdb --collector "Ana Ruiz" --top 25 --out ana.xlsx
    """
    run_safely(_worklist, warehouse, out, collector, top, items, balance)


def _worklist(warehouse, out, collector, top, items, balance):
    from models_ml.io import read_frame
    from models_ml.worklist.build import balance_collectors, load_cadence
    from models_ml.worklist.exports import safe_frame, worklist_sheet, write_sheet

    con = _open_warehouse(warehouse)
    try:
        accounts = read_frame(con, "select * from models.worklist order by rank")
        item_rows = read_frame(con, "select * from models.worklist_items order by item_rank") if items else None
    finally:
        con.close()
    if balance:
        accounts["assigned_collector"] = balance_collectors(accounts, load_cadence())
    if items:
        frame = item_rows
        if collector:
            frame = frame[frame["collector"].str.casefold() == collector.casefold()]
        frame = safe_frame(frame.head(top) if top else frame)
    else:
        frame = worklist_sheet(accounts, collector, top)
    if frame.empty:
        raise UserError("nothing to export with these filters", "check the collector's name: dunning worklist "
                                                                 "--out all.csv lists every collector")
    path = write_sheet(frame, out)
    console.print(f"wrote {len(frame):,} rows to {path}")


@app.command()
def cases(
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="A built warehouse."),
    out: Path = typer.Option(..., "--out", help="CSV for Salesforce Data Loader (Case object)."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Export the cases to open (disputes, payment-method updates, escalations) as a Salesforce Case import CSV.

    Example: dunning cases --warehouse build/warehouse.duckdb --out cases.csv
    """
    run_safely(_cases, warehouse, out)


def _cases(warehouse, out):
    from models_ml.io import build_as_of, read_frame
    from models_ml.worklist.exports import salesforce_cases, write_sheet

    con = _open_warehouse(warehouse)
    try:
        frame = read_frame(con, "select * from models.cases_to_open")
        as_of = build_as_of(con)
    finally:
        con.close()
    path = write_sheet(salesforce_cases(frame, as_of), out)
    console.print(f"wrote {len(frame):,} cases to {path}")


@app.command()
def status(
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="A built warehouse."),
    out: Path = typer.Option(..., "--out", help="FILE.md or FILE.html."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Write the leads' daily status: recoveries, backlog, forecast, SLA breaches, promises due.

    Example: dunning status --warehouse build/warehouse.duckdb --out status.html
    """
    run_safely(_status, warehouse, out)


def _status(warehouse, out):
    from models_ml.io import build_as_of
    from models_ml.worklist.exports import daily_status_html, daily_status_markdown
    from models_ml.worklist.status import daily_status

    if Path(out).suffix.lower() not in (".md", ".html"):
        raise UserError(f"{out}: write the status as .md or .html")
    con = _open_warehouse(warehouse)
    try:
        as_of = build_as_of(con)
        report = daily_status(con, as_of)
    finally:
        con.close()
    render = daily_status_html if Path(out).suffix.lower() == ".html" else daily_status_markdown
    Path(out).write_text(render(report))
    console.print(f"wrote the status for {report['date']} to {out}")


# ----------------------------------------------------------------------------------------------- evaluate
@app.command()
def evaluate(
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="A built warehouse (of a generated book)."),
    truth: Path = typer.Option(..., help="The generated book's truth/ folder (evaluation only)."),
    reports: Path = typer.Option(SETTINGS.reports_dir, help="Folder for the evaluation reports."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Compare the models with baselines and with the simulator's truth (the best possible) on generated data.

    Example: dunning evaluate --warehouse build/warehouse.duckdb --truth demo_data/raw/truth
    """
    run_safely(_evaluate, warehouse, truth, reports)


def _evaluate(warehouse: Path, truth: Path, reports: Path, held_out=None):
    """`held_out`: the risk step's held-out frame of the build just made (the demo), not to be recomputed."""
    from models_ml.forecasting import compare_with_oracle as compare_forecasts
    from models_ml.io import build_as_of, connect, table_exists
    from models_ml.risk.report import write_oracle_report
    from models_ml.risk.train import compare_with_oracle

    if not Path(warehouse).exists():
        raise UserError(f"{warehouse}: warehouse not found", "build one first: dunning build --raw DIR")
    if not Path(truth).is_dir():
        raise UserError(f"{truth}: truth folder not found", "pass the truth/ folder of a generated book")
    con = connect(warehouse)
    try:
        as_of = build_as_of(con)
        table, joined = compare_with_oracle(con, truth, as_of, test_scored=held_out)
        forecast = (compare_forecasts(con, truth, as_of)
                    if table_exists(con, "models", "forecast_backtest") else None)
    finally:
        con.close()
    path = write_oracle_report(Path(reports), table, joined, as_of)
    show = Table(title=f"Risk: held-out period, as of {as_of}")
    for col in ("scorer", "ROC AUC", "PR AUC", "Brier", "ECE", "top-10 % capture"):
        show.add_column(col)
    for r in table.itertuples():
        show.add_row(r.scorer, f"{r.roc_auc:.3f}", f"{r.pr_auc:.3f}", f"{r.brier:.3f}", f"{r.ece:.3f}",
                     f"{r.top10_capture:.1%}")
    console.print(show)
    console.print(f"report: {path}")
    if forecast is not None:
        print_forecast_evaluation(*forecast, as_of, reports)
    _evaluate_retry_policies(warehouse, truth, reports)


def print_forecast_evaluation(ftable, fbacktest, as_of: str, reports: Path):
    from models_ml.forecasting import write_forecast_oracle_report

    fpath = write_forecast_oracle_report(Path(reports), ftable, fbacktest, as_of)
    show = Table(title=f"Cash forecast backtest (total, 30 days ahead), as of {as_of}")
    for col in ("model", "WAPE", "MASE", "bias", "80 % cov.", "95 % cov."):
        show.add_column(col)

    def cov(value):
        return "n/a" if value != value else f"{value:.1%}"

    for r in ftable.itertuples():
        show.add_row(r.model, f"{r.wape:.1%}", f"{r.mase:.3f}", f"{r.bias:+.1%}", cov(r.coverage_80),
                     cov(r.coverage_95))
    console.print(show)
    console.print(f"report: {fpath}")


def _evaluate_retry_policies(warehouse: Path, truth: Path, reports: Path):
    from models_ml.io import connect
    from models_ml.retry.simulator import compare_policies, write_policy_report

    con = connect(warehouse)
    try:
        table, _ = compare_policies(con, truth, limit=2000)
    finally:
        con.close()
    show = Table(title="Retry policies replayed against the simulator's behaviour")
    for col in ("policy", "recovered share", "vs fixed", "expected retries", "vs fixed ", "violations"):
        show.add_column(col)
    for r in table.itertuples():
        show.add_row(r.policy, f"{r.recovered_share:.1%}", f"{r.recovered_vs_fixed:+.1%}",
                     f"{r.expected_retries:,.0f}", f"{r.retries_vs_fixed:+.1%}", str(r.violations))
    console.print(show)
    console.print(f"report: {write_policy_report(Path(reports), table)}")


# ----------------------------------------------------------------------------------------------- benchmark
benchmark_app = typer.Typer(help="External benchmarks of the modelling code on real public data.",
                            no_args_is_help=True)
app.add_typer(benchmark_app, name="benchmark")


@benchmark_app.command("uci")
def benchmark_uci(
    path: Path = typer.Option(..., "--path", help="UCI_Credit_Card.csv (default of credit card clients)."),
    folds: int = typer.Option(5, min=2, help="Stratified cross-validation folds."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """5-fold cross-validated ROC AUC of the risk model's code on the UCI credit-default data.

    Example: dunning benchmark uci --path ../shared/data/external/uci_default_credit_card_clients/UCI_Credit_Card.csv
    """
    run_safely(_benchmark_uci, path, folds)


def _benchmark_uci(path: Path, folds: int):
    import json

    from models_ml.risk.uci import run_uci_benchmark

    if not Path(path).exists():
        raise UserError(f"{path}: file not found", "pass the UCI_Credit_Card.csv from shared/data/external")
    with steps(1) as step:
        step(f"{folds}-fold cross-validation")
        result = run_uci_benchmark(path, folds)
    console.print(f"rows {result['rows']:,}, default rate {result['default_rate']:.1%}")
    console.print(f"gradient boosting ROC AUC per fold: {', '.join(f'{v:.3f}' for v in result['fold_roc_auc'])}")
    console.print(f"gradient boosting ROC AUC {result['roc_auc']:.3f} +/- {result['roc_auc_std']:.3f} "
                  f"(published about {result['published_gradient_boosting_roc_auc']}); logistic baseline "
                  f"{result['logistic_roc_auc']:.3f}")
    print(json.dumps(result))


def _check_date(value: str):
    import datetime as dt

    try:
        dt.date.fromisoformat(value)
    except ValueError:
        raise UserError(f"--as-of {value!r} is not a date", "write it as YYYY-MM-DD, e.g. 2026-10-31") from None


# ----------------------------------------------------------------------------------------------- demo
@app.command()
def demo(
    serve: bool = typer.Option(True, "--serve/--no-serve", help="Serve the dashboard after the build."),
    port: int = typer.Option(8501, help="Dashboard port on 127.0.0.1."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Generate the embedded demo book, build everything and (unless --no-serve) serve the dashboard.

    Example: dunning demo --no-serve
    """
    run_safely(_demo, serve, port)


def _demo(serve: bool, port: int):
    raw = SETTINGS.demo_raw_dir
    _generate(raw, SETTINGS.demo_accounts, SETTINGS.demo_months, SETTINGS.demo_seed, "csv", "2026-10-31", False)
    result = _build(raw, SETTINGS.warehouse, None, SETTINGS.reports_dir)
    _evaluate(SETTINGS.warehouse, raw / "truth", SETTINGS.reports_dir,
              held_out=result.risk.test_frame if result.risk is not None else None)
    app_file = PROJECT_ROOT / "dashboards" / "app.py"
    if not serve:
        return
    if not app_file.exists():
        console.print("the dashboard is not built yet; the warehouse is ready at " + str(SETTINGS.warehouse))
        return
    serve_dashboard(SETTINGS.warehouse, port)


# ----------------------------------------------------------------------------------------------- dashboard
@app.command()
def dashboard(
    warehouse: Path = typer.Option(SETTINGS.warehouse, help="A built warehouse (DuckDB file) to show."),
    port: int = typer.Option(8501, min=1, max=65535, help="Port on 127.0.0.1."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks."),
):
    """Serve the dashboard on http://127.0.0.1:PORT for any warehouse (read-only; a rebuild is picked up live).

    Example: dunning dashboard --warehouse build/warehouse.duckdb --port 8502
    """
    run_safely(_dashboard, warehouse, port)


def _dashboard(warehouse: Path, port: int):
    import socket

    if not Path(warehouse).is_file():
        raise UserError(f"{warehouse}: warehouse not found",
                        "build one first: dunning build --raw DIR --warehouse FILE (or make demo)")
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise UserError(f"port {port} is already in use", "pick another one with --port 8502") from None
    serve_dashboard(warehouse, port)


def serve_dashboard(warehouse: Path, port: int):
    import os
    import subprocess

    env = {**os.environ, "DUNNING_WAREHOUSE": str(Path(warehouse).resolve())}
    console.print(f"serving the dashboard on http://127.0.0.1:{port} (Ctrl+C to stop)")
    try:
        # Bound to 127.0.0.1 only; Streamlit keeps XSRF protection on by default.
        subprocess.run([sys.executable, "-m", "streamlit", "run", str(PROJECT_ROOT / "dashboards" / "app.py"),
                        "--server.headless", "true", "--browser.gatherUsageStats", "false",
                        "--server.address", "127.0.0.1", "--server.port", str(port),
                        "--server.fileWatcherType", "none", "--client.toolbarMode", "viewer"],
                       env=env, check=False)
    except KeyboardInterrupt:
        console.print("dashboard stopped")


def main():  # pragma: no cover - console-script shim
    logging.basicConfig(level=logging.WARNING)
    app()

