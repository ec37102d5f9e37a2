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
# # Delinquency exploration
# Cohorts, roll rates and decline trends by segment and method, straight from the warehouse.
# Set `DUNNING_WAREHOUSE` to the warehouse to explore (default: `build/warehouse.duckdb` from `make demo`).

# %%
import os
from pathlib import Path

import duckdb
import plotly.express as px

warehouse = Path(os.environ.get("DUNNING_WAREHOUSE", "../build/warehouse.duckdb"))
con = duckdb.connect(str(warehouse), read_only=True)
as_of = con.sql("select as_of_date from raw._build_info").fetchone()[0]
print(f"warehouse {warehouse}, as of {as_of}")

# %% [markdown]
# ## Open AR by aging bucket over time

# %%
aging = con.sql("""
    select snapshot_date, aging_bucket, sum(open_amount_reporting) as open_ar
    from marts.fct_aging_snapshots
    where snapshot_date = last_day(snapshot_date) or is_as_of_snapshot
    group by all order by snapshot_date
""").df()
px.bar(aging, x="snapshot_date", y="open_ar", color="aging_bucket", title="Open AR by bucket")

# %% [markdown]
# ## Roll rates: where last month's buckets went

# %%
rolls = con.sql("""
    select from_bucket, to_state, sum(amount) as amount
    from reports.rpt_roll_rates group by all
""").df()
matrix = rolls.pivot_table(index="from_bucket", columns="to_state", values="amount", aggfunc="sum").fillna(0)
(matrix.div(matrix.sum(axis=1), axis=0) * 100).round(1)

# %% [markdown]
# ## Failed-payment cohorts: recovery within 30 days by decline family

# %%
cohorts = con.sql("""
    select failure_cohort, decline_family,
           sum(recovered_30d_amount) / nullif(sum(mature_30d_amount), 0) as recovery_rate
    from reports.rpt_failed_payment_recovery
    where mature_30d_count > 0
    group by all order by failure_cohort
""").df()
px.line(cohorts, x="failure_cohort", y="recovery_rate", color="decline_family",
        title="30-day recovery rate of failed payments, by cohort of first failure")

# %% [markdown]
# ## Decline mix by segment and method

# %%
mix = con.sql("""
    select a.segment, p.attempt_method, p.decline_family, count(*) as failures
    from marts.fct_payment_attempts as p join marts.dim_accounts as a using (account_id)
    where p.is_failed group by all
""").df()
px.bar(mix, x="segment", y="failures", color="decline_family", facet_col="attempt_method",
       title="Failed attempts by decline family")
