"""`make bench`: generate books of several sizes, run every stage in its own process, record wall time, CPU time
and peak memory per stage with the machine's cores and memory, newest first in benchmarks/results.md."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from benchmarks.stage import SEED

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.md"
MONTHS = 12
TARGETS = {  # from the benchmark issue; figures are compared with these in results.md
    "build_1m_s": 15 * 60, "peak_1m_mb": 12 * 1024, "growth_100k_to_1m": 11.0, "dbt_overhead": 1.3,
    "page_s": 1.0, "demo_s": 60,
}


def run_stage(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "benchmarks.stage", *args], capture_output=True, text=True,
                         cwd=HERE.parent, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    if out.returncode != 0:
        return {"stage": args[0], "error": (out.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores, {memory_gb:.0f} GB, Python {platform.python_version()}"


def generated(raw: Path, accounts: int) -> bool:
    """Whether `raw` already holds the benchmark book of this size (same generator seed and months)."""
    try:
        manifest = json.loads((raw / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return manifest.get("accounts") == accounts and manifest.get("months") == MONTHS and manifest.get(
        "seed") == SEED


def bench_size(accounts: int, work: Path, reuse_books: bool = False) -> dict:
    raw, warehouse, reports = work / f"raw_{accounts}", work / f"wh_{accounts}.duckdb", work / f"reports_{accounts}"
    if reuse_books and generated(raw, accounts):
        stages = [{"stage": "generate", "reused": "book of an earlier run, not timed"}]
    else:
        stages = [run_stage("generate", str(raw), str(accounts), str(MONTHS))]
    stages.append(run_stage("build", str(raw), str(warehouse), str(reports)))
    stages.append(run_stage("dashboard", str(warehouse)))
    return {"accounts": accounts, "months": MONTHS, "stages": stages}


def demo_time(work: Path) -> float:
    env = {**os.environ, "DUNNING_DEMO_DIR": str(work / "demo_raw"), "DUNNING_WAREHOUSE": str(work / "demo.duckdb"),
           "DUNNING_REPORTS": str(work / "demo_reports")}
    started = dt.datetime.now()
    dunning = Path(sys.executable).with_name("dunning")
    subprocess.run([str(dunning), "demo", "--no-serve"], cwd=HERE.parent, env=env, capture_output=True, check=False)
    return (dt.datetime.now() - started).total_seconds()


def to_markdown(results: list[dict], demo_s: float | None) -> str:
    lines = [f"## {dt.datetime.now():%Y-%m-%d %H:%M} UTC — {machine()}", ""]
    if demo_s is not None:
        status = "met" if demo_s <= TARGETS["demo_s"] else "MISSED"
        lines += [f"- `dunning demo --no-serve` (generation included): {demo_s:.0f} s (target 60 s: {status})", ""]
    lines += ["| accounts x months | stage | wall s | CPU s | peak MB | details |", "|---|---|---|---|---|---|"]
    for result in results:
        for stage in result["stages"]:
            details = {k: v for k, v in stage.items() if k not in ("stage", "wall_s", "cpu_s", "peak_mb")}
            lines.append(f"| {result['accounts']:,} x {result['months']} | {stage['stage']} | "
                         f"{stage.get('wall_s', '')} | {stage.get('cpu_s', '')} | {stage.get('peak_mb', '')} | "
                         f"{json.dumps(details)} |")
    builds = {r["accounts"]: next((s for s in r["stages"] if s["stage"] == "build"), {}) for r in results}
    pages = {r["accounts"]: next((s for s in r["stages"] if s["stage"] == "dashboard"), {}) for r in results}
    lines.append("")
    big = builds.get(1_000_000, {})
    if "wall_s" in big:
        lines.append(f"- build at 1,000,000: {big['wall_s']:.0f} s (target {TARGETS['build_1m_s']} s: "
                     f"{_status(big['wall_s'] <= TARGETS['build_1m_s'])}), peak {big['peak_mb']:,.0f} MB (target "
                     f"{TARGETS['peak_1m_mb']:,} MB: {_status(big['peak_mb'] <= TARGETS['peak_1m_mb'])})")
    for accounts, stage in pages.items():
        if stage.get("page_best_s"):
            page, seconds = max(stage["page_best_s"].items(), key=lambda kv: kv[1])
            lines.append(f"- slowest dashboard page at {accounts:,}: {page} {seconds:.2f} s (target "
                         f"{TARGETS['page_s']:g} s: {_status(seconds <= TARGETS['page_s'])})")
    if 100_000 in builds and 1_000_000 in builds and "wall_s" in builds[1_000_000]:
        growth = builds[1_000_000]["wall_s"] / builds[100_000]["wall_s"]
        lines.append(f"- growth 100k -> 1M: {growth:.1f}x time (target at most 11x: "
                     f"{_status(growth <= TARGETS['growth_100k_to_1m'])})")
    for accounts, build in builds.items():
        if build.get("dbt_model_s"):
            overhead = build["dbt_wall_s"] / build["dbt_model_s"]
            lines.append(f"- dbt overhead at {accounts:,}: {overhead:.2f} (wall / sum of model times; target 1.3: "
                         f"{_status(overhead <= TARGETS['dbt_overhead'])})")
    return "\n".join(lines) + "\n"


def _status(met: bool) -> str:
    return "met" if met else "MISSED"


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=HERE / "runs")
    parser.add_argument("--demo", action="store_true", help="also time `dunning demo --no-serve`")
    parser.add_argument("--reuse-books", action="store_true",
                        help="build from books an earlier run generated (same size and seed) instead of generating")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for size in args.sizes:
        print(f"benchmarking {size:,} accounts x {MONTHS} months ...", flush=True)
        results.append(bench_size(size, args.work, args.reuse_books))
        print(json.dumps(results[-1]), flush=True)
    demo_s = demo_time(args.work) if args.demo else None
    text = to_markdown(results, demo_s)
    previous = RESULTS.read_text().split("\n", 2)[2] if RESULTS.exists() else ""
    RESULTS.write_text("# Benchmark results (newest first)\n\n" + text + "\n" + previous)
    print(text)


if __name__ == "__main__":
    main()
