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


def available_memory() -> int:
    """Bytes this process may use: physical memory, or the container's (cgroup) limit when that is lower."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):  # cgroup v2, v1
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit():
            total = min(total, int(limit))
    return total


def default_memory_limit() -> str:
    """A third of the available memory, for every DuckDB the build runs (DuckDB's own default is 80 % of it)."""
    return f"{max(available_memory() // 3 // 2**20, 256)}MiB"


@dataclass(frozen=True)
class Settings:
    demo_raw_dir: Path = Path(os.environ.get("DUNNING_DEMO_DIR", PROJECT_ROOT / "demo_data" / "raw"))
    warehouse: Path = Path(os.environ.get("DUNNING_WAREHOUSE", PROJECT_ROOT / "build" / "warehouse.duckdb"))
    reports_dir: Path = Path(os.environ.get("DUNNING_REPORTS", PROJECT_ROOT / "reports"))
    close_timezone: str = os.environ.get("DUNNING_CLOSE_TZ", "America/New_York")
    # DuckDB's memory in ingest, dbt and the model steps, e.g. "4GB"; beyond it, large joins and sorts spill to
    # disk. At 1,000,000 accounts on 24 GB the default (7.8 GiB) took the build's peak from 14.5 to 11.6 GB: dbt's
    # from 13.7 to 8.4 GB at no cost in time, ingest's from 12.3 to 10.1 GB for about a minute more
    # (docs/performance.md).
    duckdb_memory_limit: str = os.environ.get("DUNNING_DUCKDB_MEMORY_LIMIT") or default_memory_limit()
    demo_accounts: int = 2000
    demo_months: int = 24
    demo_seed: int = 7


SETTINGS = Settings()
