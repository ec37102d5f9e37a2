"""Run one benchmark stage in this process and print its measurements as one JSON line.

A fresh process per stage makes peak memory (ru_maxrss) belong to that stage alone.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

SEED = 11  # the same seed for every size (benchmarks.run checks it before reusing a book)


def measure(fn) -> dict:
    wall = time.perf_counter()
    cpu = time.process_time()
    extra = fn() or {}
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "peak_mb": round(usage.ru_maxrss / 1024, 1), **extra}


def generate(out: str, accounts: str, months: str):
    from pipelines.generator.book import generate_book
    from pipelines.generator.simulate import BookConfig

    rows = generate_book(Path(out), BookConfig(accounts=int(accounts), months=int(months), seed=SEED), "parquet")
    return {"rows": sum(rows.values())}


def build(raw: str, warehouse: str, reports: str):
    from pipelines.build import run_build

    result = run_build(Path(raw), Path(warehouse), reports_dir=Path(reports))
    dbt = result.dbt
    return {"steps": {k: round(v, 2) for k, v in result.timings.items()}, "peak_mb_after": result.peak_mb,
            "dbt_wall_s": round(dbt.elapsed_seconds, 2), "dbt_model_s": round(dbt.model_seconds, 2),
            "rows_loaded": int(sum(f.rows_loaded for f in result.files))}


def dashboard(warehouse: str):
    from dashboards import data

    timings = data.time_pages(Path(warehouse), repeats=3)
    best = timings.set_index(timings.columns[0]).iloc[:, 0]  # page -> best seconds
    return {"page_best_s": {str(k): round(float(v), 3) for k, v in best.items()}}


STAGES = {"generate": generate, "build": build, "dashboard": dashboard}

if __name__ == "__main__":
    name, *args = sys.argv[1:]
    print(json.dumps({"stage": name, **measure(lambda: STAGES[name](*args))}))
