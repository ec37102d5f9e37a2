"""Paths and settings in one place. Environment variables override defaults (DUNNING_*)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

# Nothing in this suite phones home.
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@dataclass(frozen=True)
class Settings:
    demo_raw_dir: Path = Path(os.environ.get("DUNNING_DEMO_DIR", PROJECT_ROOT / "demo_data" / "raw"))
    warehouse: Path = Path(os.environ.get("DUNNING_WAREHOUSE", PROJECT_ROOT / "build" / "warehouse.duckdb"))
    reports_dir: Path = Path(os.environ.get("DUNNING_REPORTS", PROJECT_ROOT / "reports"))
    close_timezone: str = os.environ.get("DUNNING_CLOSE_TZ", "America/New_York")
    # DuckDB's memory for ingest, e.g. "4GB" (unset: DuckDB's default, 80 % of RAM); beyond it, validation tables
    # spill to disk. At 1,000,000 accounts 4GB took ingest's peak from 12.3 to 6.2 GB and its time from ~290 to
    # 426 s (docs/performance.md).
    duckdb_memory_limit: str | None = os.environ.get("DUNNING_DUCKDB_MEMORY_LIMIT")
    demo_accounts: int = 2000
    demo_months: int = 24
    demo_seed: int = 7


SETTINGS = Settings()
