"""Cash forecasting: the public engine `forecast_daily_cash`, the build step and the reports.

    from models_ml.forecasting import forecast_daily_cash
    forecast_daily_cash(deposits, horizon_days=30)   # date, forecast, lo_80, hi_80, lo_95, hi_95
"""

from models_ml.forecasting.engine import forecast_daily_cash, prepare_series
from models_ml.forecasting.pipeline import ForecastRun, compare_with_oracle, run_cash_forecasts
from models_ml.forecasting.report import write_forecast_oracle_report, write_forecast_report

__all__ = ["ForecastRun", "compare_with_oracle", "forecast_daily_cash", "prepare_series", "run_cash_forecasts",
           "write_forecast_oracle_report", "write_forecast_report"]
