"""The whole pipeline behind `dunning build`: ingest -> (dbt, quality, models as they land) -> atomic swap."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.dbt_runner import run_dbt
from pipelines.ingest import FileResult, ingest
from pipelines.warehouse import building

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    warehouse: Path
    as_of: str
    files: list[FileResult]

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
              step: Callable[[str], None] | None = None) -> BuildResult:
    """Build a complete warehouse from one load folder; the previous warehouse is replaced only on success."""
    step = step or (lambda _name: None)
    with building(warehouse) as tmp:
        con = duckdb.connect(str(tmp))
        try:
            step("ingest")
            files = ingest(Path(raw_dir), con, as_of=as_of, progress=lambda e: step(f"ingest {e}"))
            as_of = as_of or last_data_date(con)
            con.execute("create table raw._build_info as select cast(? as date) as as_of_date, ? as inputs_sha256",
                        [as_of, inputs_fingerprint(con)])
        finally:
            con.close()
        step("warehouse models (dbt build)")
        dbt = run_dbt(tmp, as_of)
        log.info("dbt build: %.1f s wall, %.1f s in models", dbt.elapsed_seconds, dbt.model_seconds)
    return BuildResult(Path(warehouse), as_of, files)
