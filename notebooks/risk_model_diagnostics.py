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
# # Risk model diagnostics
# How the non-recovery model did on the held-out period, what drives today's scores, and where the worklist's
# expected loss sits. Set `DUNNING_WAREHOUSE` (default: the demo warehouse).

# %%
import os
from pathlib import Path

import duckdb
import plotly.express as px

warehouse = Path(os.environ.get("DUNNING_WAREHOUSE", "../build/warehouse.duckdb"))
con = duckdb.connect(str(warehouse), read_only=True)
con.sql("select * from models.risk_evaluation").df()

# %% [markdown]
# ## Today's scores by item type

# %%
scores = con.sql("select * from models.risk_scores").df()
px.histogram(scores, x="p_not_recovered_30d", color="item_type", nbins=20,
             title="P(not recovered in 30 days) of today's open items")

# %% [markdown]
# ## The reasons collectors will read most often

# %%
reasons = con.sql("""
    select regexp_replace(reason, '[0-9]+', 'N', 'g') as reason_pattern, count(*) as items
    from (select reason_1 as reason from models.risk_scores union all select reason_2 from models.risk_scores
          union all select reason_3 from models.risk_scores)
    where reason <> '' group by all order by items desc limit 15
""").df()
reasons

# %% [markdown]
# ## Expected loss concentration: how much of it sits in the top of the list

# %%
ranked = scores.sort_values("expected_loss", ascending=False).reset_index(drop=True)
ranked["share_of_items"] = (ranked.index + 1) / len(ranked)
ranked["cumulative_expected_loss"] = ranked["expected_loss"].cumsum() / ranked["expected_loss"].sum()
px.line(ranked, x="share_of_items", y="cumulative_expected_loss", title="Expected loss captured down the list")
