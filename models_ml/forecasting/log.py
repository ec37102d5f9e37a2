"""Every forecast made is kept: models.forecast_log carries the forecasts of earlier builds into each new one.

A build writes a new warehouse file and swaps it in, so anything not rebuilt from the inputs would be lost at each
build. The log is the one table that is history rather than a function of the inputs: its rows for the build's
own as-of date are this build's forecast (a rebuild of the same day replaces them), the rest are copied from the
warehouse being replaced. Forecast-vs-actual over time (the dashboard's kept forecasts) reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from models_ml.io import read_frame, read_other_warehouse, write_table

log = logging.getLogger(__name__)
COLUMNS = ["forecast_date", "series_id", "model", "target_date", "horizon_days", "forecast", "lo_80", "hi_80",
           "lo_95", "hi_95"]


def keep_forecasts(con, as_of: str, previous: Path | None) -> str | None:
    """Write models.forecast_log: `previous` warehouse's log without rows made on `as_of`, plus this build's
    models.cash_forecast. Returns why the previous log could not be carried over (None when it was, or when there
    was no previous warehouse)."""
    today = read_frame(con, f"select {', '.join(COLUMNS)} from models.cash_forecast")
    earlier, problem = pd.DataFrame(columns=COLUMNS), None
    if previous is not None and Path(previous).exists():
        try:
            earlier = read_other_warehouse(Path(previous), f"""
                select {', '.join(COLUMNS)} from models.forecast_log
                where forecast_date <> cast(? as date)""", [as_of])
        except ValueError as exc:  # a log that cannot be read must not stop the build: say so, start a new one
            problem = f"forecasts kept by the previous warehouse were not carried over ({exc})"
            log.warning(problem)
    frames = [f for f in (earlier, today) if not f.empty]
    kept = pd.concat(frames, ignore_index=True) if frames else today
    kept = kept.sort_values(["forecast_date", "series_id", "model", "target_date"]).reset_index(drop=True)
    for col in ("forecast_date", "target_date"):
        kept[col] = pd.to_datetime(kept[col]).dt.date  # stored as DATE
    write_table(con, "models", "forecast_log", kept)
    return problem
