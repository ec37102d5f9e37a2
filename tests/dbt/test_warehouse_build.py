"""End to end on a small generated book: `run_build` (ingest + dbt build with every data test), dbt's unit tests on
the built warehouse, the marts, the AR roll-forward reconciled again in Python, and `dbt docs generate`."""

from __future__ import annotations

import json
import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
import yaml

from pipelines.build import BuildResult, run_build
from pipelines.config import DBT_PROJECT_DIR
from pipelines.generator.book import generate_book
from pipelines.generator.simulate import BookConfig

pytestmark = pytest.mark.slow

MARTS = sorted(p.stem for p in (DBT_PROJECT_DIR / "models" / "marts").glob("*.sql"))
ZERO = Decimal("0.00")


@pytest.fixture(scope="session")
def build(tmp_path_factory) -> tuple[BuildResult, list[dict]]:
    """A 300-account, 6-month book built once; returns the build result and dbt's per-node results of the build.

    The risk model that run_build trains after dbt has its own tests; it is skipped here to keep this file fast.
    """
    import pipelines.build

    root = tmp_path_factory.mktemp("warehouse_build")
    generate_book(root / "raw", BookConfig(accounts=300, months=6, seed=11, end_date="2026-10-31"))
    with pytest.MonkeyPatch.context() as patch:
        if hasattr(pipelines.build, "run_risk"):
            patch.setattr(pipelines.build, "run_risk", lambda *args, **kwargs: None)
        result = run_build(root / "raw", root / "warehouse.duckdb")
    if getattr(result, "dbt", None) is not None:
        return result, result.dbt.results
    run_results = json.loads((DBT_PROJECT_DIR / "target" / "run_results.json").read_text())
    assert run_results["args"]["which"] == "build"
    return result, run_results["results"]


@pytest.fixture(scope="session")
def con(build):
    result, _ = build
    connection = duckdb.connect(str(result.warehouse), read_only=True)
    yield connection
    connection.close()


def test_build_passes_every_dbt_node(build):
    _, results = build
    statuses = defaultdict(set)
    for node in results:
        statuses[node["unique_id"].split(".")[0]].add(node["status"])
    failing = [n["unique_id"] for n in results if n["status"] not in ("success", "pass", "no-op")]
    assert not failing
    # The build ran the contracts' models, seeds and data tests, not an empty selection; unit tests are for CI.
    assert statuses["model"] == {"success"}
    assert statuses["test"] == {"pass"}
    assert statuses["seed"] == {"success"}
    assert "unit_test" not in statuses


def test_every_dbt_unit_test_passes_on_the_built_warehouse(build, tmp_path):
    import shutil

    from pipelines.dbt_runner import run_dbt

    result, _ = build
    copy = tmp_path / "unit.duckdb"
    shutil.copyfile(result.warehouse, copy)
    run = run_dbt(copy, result.as_of, "test", ["--select", "test_type:unit"])
    defined = sum(len(yaml.safe_load(path.read_text()).get("unit_tests") or [])
                  for path in (DBT_PROJECT_DIR / "models").rglob("*.yml"))
    assert defined > 0
    units = [r for r in run.results if r["unique_id"].startswith("unit_test.")]
    assert len(units) == defined and all(r["status"] == "pass" for r in units)
    assert {r["unique_id"].split(".")[0] for r in run.results} == {"unit_test", "operation"}  # + the run hook


def test_every_mart_exists_and_has_rows(con):
    assert MARTS, "no mart models found"
    tables = {row[0] for row in con.execute(
        "select table_name from information_schema.tables where table_schema = 'marts'").fetchall()}
    assert set(MARTS) <= tables
    empty = [m for m in MARTS if con.execute(f"select count(*) from marts.{m}").fetchone()[0] == 0]
    assert not empty


def test_rollforward_reconciles(con):
    rows = con.execute("""
        select currency, posting_period, opening_ar, invoiced_amount, cash_applied_amount, credit_amount,
               write_off_amount, chargeback_amount, closing_ar,
               opening_ar_reporting, invoiced_reporting, cash_applied_reporting, credit_reporting,
               write_off_reporting, chargeback_reporting, closing_ar_reporting
        from marts.fct_ar_rollforward
        order by currency, posting_period
    """).fetchall()
    assert rows
    closing = {}
    for (currency, period, opening, invoiced, cash, credit, write_off, chargeback, close,
         opening_r, invoiced_r, cash_r, credit_r, write_off_r, chargeback_r, close_r) in rows:
        assert opening + invoiced - cash - credit - write_off + chargeback == close, (currency, period)
        assert opening_r + invoiced_r - cash_r - credit_r - write_off_r + chargeback_r == close_r, (currency, period)
        previous, previous_r = closing.get(currency, (ZERO, ZERO))
        assert (opening, opening_r) == (previous, previous_r), (currency, period)
        closing[currency] = (close, close_r)

    open_invoices = {currency: (amount, amount_r) for currency, amount, amount_r in con.execute("""
        select currency, sum(open_amount), sum(open_amount_reporting) from marts.fct_invoices group by currency
    """).fetchall()}
    assert closing == open_invoices

    # Aging at the as-of date adds up to the same open AR (positive balances only, so compare with those).
    aging = con.execute("""
        select sum(open_amount_reporting) from marts.fct_aging_snapshots where is_as_of_snapshot
    """).fetchone()[0]
    positive = con.execute("""
        select sum(open_amount_reporting) from marts.fct_invoices where open_amount > 0
    """).fetchone()[0]
    assert aging == positive


def test_docs_generate(build, tmp_path):
    """`dbt docs generate` works offline on the built warehouse.

    pipelines.dbt_runner.run_dbt puts its options between `docs` and `generate` (dbt rejects that), so this calls
    dbtRunner with the same arguments in the right order, into a private target folder.
    """
    from dbt.cli.main import dbtRunner

    result, _ = build
    target = tmp_path / "target"
    # A private copy: other tests of this module hold read-only connections to the built file.
    copy = tmp_path / "docs.duckdb"
    copy.write_bytes(Path(result.warehouse).read_bytes())
    os.environ["DUNNING_DBT_PATH"] = str(copy)
    outcome = dbtRunner().invoke([
        "docs", "generate", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--vars", json.dumps({"as_of_date": result.as_of}), "--target-path", str(target),
        "--log-path", str(tmp_path / "logs"), "--quiet", "--no-use-colors", "--no-send-anonymous-usage-stats",
    ])
    assert outcome.success, outcome.exception
    assert (target / "index.html").exists()
    catalog = json.loads((target / "catalog.json").read_text())
    documented = {node["metadata"]["name"] for node in catalog["nodes"].values()}
    assert set(MARTS) <= documented
    manifest = json.loads((target / "manifest.json").read_text())
    undocumented = [node["name"] for node in manifest["nodes"].values()
                    if node["resource_type"] == "model" and node["name"] in MARTS and not node["description"]]
    assert not undocumented
    assert {e["name"] for e in manifest["exposures"].values()} >= {"overview", "aging", "worklist"}


def test_marts_match_their_contracts(con):
    """The physical mart columns are the contract's columns (the contract is enforced at build time too)."""
    import yaml

    spec = yaml.safe_load((DBT_PROJECT_DIR / "models" / "marts" / "_marts__models.yml").read_text())
    for model in spec["models"]:
        assert model["config"]["contract"]["enforced"] is True, model["name"]
        declared = [c["name"] for c in model["columns"]]
        actual = [row[0] for row in con.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ? "
            "order by ordinal_position", [model["name"]]).fetchall()]
        assert sorted(declared) == sorted(actual), model["name"]
    assert sorted(m["name"] for m in spec["models"]) == MARTS


def test_warehouse_file_is_the_swapped_build(build):
    result, _ = build
    assert Path(result.warehouse).exists()
    assert not list(Path(result.warehouse).parent.glob(".*.building-*"))
