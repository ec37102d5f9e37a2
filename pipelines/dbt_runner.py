"""Run the dbt project in-process against a warehouse file, with the run's as-of date."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipelines import threadsafe_ast
from pipelines.config import DBT_PROJECT_DIR, SETTINGS

log = logging.getLogger(__name__)


class DbtError(Exception):
    """dbt failed; the message names the failing node(s)."""


@dataclass
class DbtRun:
    elapsed_seconds: float
    results: list[dict]

    @property
    def model_seconds(self) -> float:
        return sum(r["execution_time"] for r in self.results)

    def summary(self) -> str:
        """'367 of 367 nodes passed (43 models, 4 seeds, 305 data tests, 15 unit tests) in 126.1 s'."""
        names = {"model": "models", "seed": "seeds", "test": "data tests", "unit_test": "unit tests"}
        nodes = [r for r in self.results if r["unique_id"].split(".")[0] in names]  # not hooks or exposures
        kinds = Counter(r["unique_id"].split(".")[0] for r in nodes)
        passed = sum(r["status"] in ("success", "pass") for r in nodes)
        parts = ", ".join(f"{kinds[k]} {name}" for k, name in names.items() if kinds[k])
        warned = sum(r["status"] == "warn" for r in nodes)
        warnings = f", {warned} warned" if warned else ""
        return f"{passed} of {len(nodes)} nodes passed{warnings} ({parts}) in {self.elapsed_seconds:.1f} s"


def run_dbt(warehouse: Path, as_of: str, command: str = "build", extra_args: list[str] | None = None,
            target: str = "duckdb", env: dict[str, str] | None = None) -> DbtRun:
    """`dbt <command>` on `warehouse` (absolute DuckDB path) with vars as_of_date; raises DbtError on failure."""
    from dbt.cli.main import dbtRunner

    threadsafe_ast.install()  # dbt's worker threads parse Jinja literals concurrently
    target_path = DBT_PROJECT_DIR / "target"
    args = [
        *command.split(), "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
        "--target", target, "--vars", json.dumps({"as_of_date": as_of}), "--target-path", str(target_path),
        "--log-path", str(DBT_PROJECT_DIR / "logs"), "--quiet", "--no-use-colors", "--no-send-anonymous-usage-stats",
        *(extra_args or []),
    ]
    with _project_lock():  # one dbt invocation at a time per project: target/ and logs/ are shared
        # profiles.yml reads the path and memory limit from the environment: set them for this invocation only.
        saved = {k: os.environ.get(k) for k in ("DUNNING_DBT_PATH", "DUNNING_DUCKDB_MEMORY_LIMIT", *(env or {}))}
        try:
            os.environ["DUNNING_DBT_PATH"] = str(Path(warehouse).resolve())
            os.environ["DUNNING_DUCKDB_MEMORY_LIMIT"] = SETTINGS.duckdb_memory_limit
            os.environ.update(env or {})
            result = dbtRunner().invoke(args)
        finally:
            _release_duckdb()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        run_results = _read_run_results(target_path)
    if not result.success:
        failures = [f"{r['unique_id']}: {(r.get('message') or '').splitlines()[0] if r.get('message') else r['status']}"
                    for r in run_results.get("results", []) if r["status"] in ("error", "fail")]
        detail = "; ".join(failures[:3]) if failures else str(result.exception or "see dbt_project/logs/dbt.log")
        raise DbtError(f"dbt {command} failed: {detail}")
    return DbtRun(run_results.get("elapsed_time", 0.0), run_results.get("results", []))


def _release_duckdb() -> None:
    """dbt-duckdb keeps its database open for the life of the process; close it so the finished warehouse is
    not held (and locked) after the swap."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:
        return
    env = getattr(DuckDBConnectionManager, "_ENV", None)
    if env is not None:
        with contextlib.suppress(Exception):
            env.close()
        DuckDBConnectionManager._ENV = None


@contextlib.contextmanager
def _project_lock():
    DBT_PROJECT_DIR.joinpath("target").mkdir(exist_ok=True)
    with open(DBT_PROJECT_DIR / "target" / ".dunning.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_run_results(target_path: Path) -> dict:
    path = target_path / "run_results.json"
    return json.loads(path.read_text()) if path.exists() else {}
