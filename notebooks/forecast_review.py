# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Forecast review
# The cash forecast with its intervals, backtest accuracy against the baselines, and the same engine on any daily
# series (`forecast_daily_cash`). Set `DUNNING_WAREHOUSE` (default: the demo warehouse).

# %%
import os
from pathlib import Path

import duckdb
import pandas as pd
import plotly.graph_objects as go

from models_ml.forecasting import forecast_daily_cash

warehouse = Path(os.environ.get("DUNNING_WAREHOUSE", "../build/warehouse.duckdb"))
con = duckdb.connect(str(warehouse), read_only=True)
tables = set(con.sql("select table_name from information_schema.tables where table_schema = 'models'").df()
             ["table_name"])
print(sorted(tables))

# %% [markdown]
# ## Backtest accuracy (rolling origin, 30 days ahead)

# %%
if "forecast_accuracy" in tables:
    accuracy = con.sql("select * from models.forecast_accuracy where series_id = 'total'").df()
else:
    accuracy = pd.DataFrame()
accuracy

# %% [markdown]
# ## The engine on the daily cash series

# %%
daily = con.sql("""
    select posted_local_date as day, sum(payment_amount_reporting) as cash
    from marts.fct_payments group by all order by day
""").df()
series = pd.Series(daily["cash"].to_numpy(dtype=float), index=pd.to_datetime(daily["day"]))
forecast = forecast_daily_cash(series, horizon_days=30)
history = series.iloc[-90:]
figure = go.Figure([
    go.Scatter(x=history.index, y=history.values, name="actual"),
    go.Scatter(x=forecast["date"], y=forecast["hi_95"], line={"width": 0}, showlegend=False),
    go.Scatter(x=forecast["date"], y=forecast["lo_95"], fill="tonexty", line={"width": 0}, name="95 %"),
    go.Scatter(x=forecast["date"], y=forecast["forecast"], name="forecast"),
])
figure.update_layout(title="Daily cash: last 90 days and the next 30")
