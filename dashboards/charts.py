"""Chart builders: pure functions from query frames to plotly figures (no Streamlit, no I/O).

Text that comes from the data (family names, collectors, references) is HTML-escaped before it reaches a figure:
plotly renders a subset of HTML in labels and hover text, and nothing from the data may become markup.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

AGING_COLORS = {"current": "#2e7d32", "1-30": "#9ccc65", "31-60": "#fdd835", "61-90": "#fb8c00",
                "91-120": "#e53935", "120+": "#8e0000"}
ROLL_LABELS = {"paid_or_credited": "paid / credited", "written_off": "written off"}
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#637939"]
BLUE, ORANGE, GREY, RED = "#1f6fb4", "#ef7d22", "#8a8f98", "#c62828"
EVENT_ORDER = ["invoice", "payment attempt", "payment", "promise to pay", "outreach", "case", "dispute",
               "credit memo", "refund", "write-off"]
NACHA_PANELS = (("unauthorized_return_rate", "Unauthorized (R05/R07/R10/R11/R29)", 0.005),
                ("administrative_return_rate", "Administrative (R02/R03/R04)", 0.03),
                ("overall_return_rate", "Overall", 0.15))


def safe(value) -> str:
    """A data value as inert text for a figure label."""
    return html.escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))


def _safe_series(series: pd.Series) -> pd.Series:
    return series.map(safe)


def words(value) -> str:
    """A code as inert words for a label: 'insufficient_funds' -> 'insufficient funds'."""
    return safe(value).replace("_", " ")


def _month(series: pd.Series) -> pd.Series:
    """Month-end dates as the first of their month, so axis ticks name the month the value belongs to."""
    return pd.to_datetime(series).dt.to_period("M").dt.to_timestamp()


def _layout(fig: go.Figure, title: str | None = None, height: int = 340, y_title: str | None = None,
            y_format: str | None = None, legend: bool = True, top: int | None = None) -> go.Figure:
    """Common look: title top left, legend in one band at the bottom of the figure (never over the title)."""
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}} if title else None,
        height=height, margin={"l": 10, "r": 10, "t": top if top is not None else (44 if title else 16), "b": 10},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom", "xanchor": "left", "x": 0,
                "title": None},
        showlegend=legend, hovermode="x unified",
    )
    if y_title is not None or y_format:
        fig.update_yaxes(title=y_title, tickformat=y_format)
    return fig


def _right_axis(fig: go.Figure, title: str, tickformat: str, **axis) -> go.Figure:
    """A second y axis on the right, sharing the x axis (cheaper than make_subplots(secondary_y=True))."""
    fig.update_layout(yaxis2={"title": title, "tickformat": tickformat, "overlaying": "y", "side": "right",
                              "showgrid": False, **axis})
    return fig


def _hline(fig: go.Figure, y: float, color: str, text: str, axis: str = "", dash: str = "dash",
           yaxis: str | None = None) -> None:
    """A horizontal reference line across the plot of x axis `axis` ('', '2', '3') on y axis `yaxis` (default: the
    same number), labelled at its left end."""
    yaxis = axis if yaxis is None else yaxis
    fig.add_shape(type="line", xref=f"x{axis} domain", x0=0, x1=1, yref=f"y{yaxis}", y0=y, y1=y,
                  line={"color": color, "dash": dash, "width": 1.5})
    fig.add_annotation(text=text, xref=f"x{axis} domain", x=0, yref=f"y{yaxis}", y=y, xanchor="left",
                       yanchor="bottom", showarrow=False, font={"size": 11, "color": color})


def empty(message: str, height: int = 220) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=safe(message), showarrow=False, font={"size": 14, "color": GREY},
                       xref="paper", yref="paper", x=0.5, y=0.5)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height, legend=False)


# ----------------------------------------------------------------------------------------------- overview
def kpi_lines(frame: pd.DataFrame, series: dict[str, str], title: str, y_title: str = "", y_format: str | None = None,
              x: str = "period", dashed: tuple[str, ...] = ()) -> go.Figure:
    """Monthly lines, one per column of `series` ({column: label}); the open month is drawn as a hollow marker."""
    if frame.empty:
        return empty("no data for this selection")
    fig = go.Figure()
    for i, (column, label) in enumerate(series.items()):
        if column not in frame:
            continue
        fig.add_trace(go.Scatter(
            x=frame[x], y=frame[column], name=label, mode="lines+markers",
            line={"color": PALETTE[i % len(PALETTE)], "width": 2.5 if i == 0 else 2,
                  "dash": "dot" if column in dashed else "solid"},
            marker={"size": 6, "symbol": [("circle-open" if o else "circle") for o in
                                          frame.get("is_open_period", pd.Series(False, index=frame.index))]},
            connectgaps=False))
    fig.update_xaxes(tickformat="%b %Y")
    return _layout(fig, title, y_title=y_title, y_format=y_format)


def daily_activity(daily: pd.DataFrame) -> go.Figure:
    """Daily cash collected and invoiced (bars) with open AR at end of day (line, right axis)."""
    if daily.empty:
        return empty("no daily data")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=daily["report_date"], y=daily["cash_collected"], name="Cash collected",
                         marker_color=BLUE))
    fig.add_trace(go.Bar(x=daily["report_date"], y=daily["invoiced_amount"], name="Invoiced",
                         marker_color="#b7c7d9"))
    fig.add_trace(go.Scatter(x=daily["report_date"], y=daily["open_ar"], name="Open AR (right axis)",
                             line={"color": ORANGE, "width": 2.5}, yaxis="y2"))
    fig.update_yaxes(title="per day", tickformat="$,.3~s")
    _right_axis(fig, "open AR", "$,.3~s")
    fig.update_layout(barmode="group", bargap=0.15)
    return _layout(fig, "Daily cash, invoicing and open AR", height=360)


# ----------------------------------------------------------------------------------------------- aging
def aging_stacked(trend: pd.DataFrame, share: bool = False) -> go.Figure:
    """Open AR by aging bucket at every snapshot (stacked bars, amounts or shares of the total)."""
    if trend.empty:
        return empty("no open receivables for this selection")
    frame = trend.copy()
    frame["label"] = [("as of " + d.strftime("%d %b %Y")) if flag else d.strftime("%b %Y")
                      for d, flag in zip(pd.to_datetime(frame["snapshot_date"]), frame["is_as_of_snapshot"],
                                         strict=True)]
    order = frame.drop_duplicates("snapshot_date").sort_values("snapshot_date")["label"].tolist()
    if share:
        frame["value"] = frame["amount"] / frame.groupby("snapshot_date")["amount"].transform("sum")
    else:
        frame["value"] = frame["amount"]
    fig = go.Figure()
    for bucket, color in AGING_COLORS.items():
        part = frame[frame["aging_bucket"] == bucket].set_index("label").reindex(order)
        fig.add_trace(go.Bar(x=order, y=part["value"], name=bucket, marker_color=color,
                             customdata=part[["invoice_count"]].fillna(0).to_numpy(),
                             hovertemplate="%{y:" + (".1%" if share else "$,.0f") + "} (%{customdata[0]:,} invoices)"))
    fig.update_layout(barmode="stack", bargap=0.2)
    fig.update_xaxes(type="category", tickangle=-45 if len(order) > 12 else 0)
    _layout(fig, "Open AR by aging bucket" + (" (share)" if share else ""), height=380,
            y_format=".0%" if share else "$,.3~s")
    return fig.update_layout(legend={"orientation": "v", "yref": "paper", "y": 1, "yanchor": "top", "x": 1.01,
                                     "xanchor": "left", "traceorder": "reversed"})


def roll_rate_matrix(rates: pd.DataFrame, title: str) -> go.Figure:
    """Heatmap from bucket (rows) x state a month later (columns); cells are amount-weighted roll rates."""
    if rates.empty:
        return empty("no roll rates yet (needs two month ends)")
    from_order = [b for b in AGING_COLORS if b in set(rates["from_bucket"])]
    to_order = [s for s in (*AGING_COLORS, "paid_or_credited", "written_off") if s in set(rates["to_state"])]
    grid = rates.pivot_table(index="from_bucket", columns="to_state", values="amount", aggfunc="sum").reindex(
        index=from_order, columns=to_order).fillna(0)
    grid = grid.div(grid.sum(axis=1).where(lambda s: s > 0), axis=0)
    text = grid.map(lambda v: "" if pd.isna(v) or v < 0.0005 else f"{v:.0%}" if v >= 0.1 else f"{v:.1%}")
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(), x=[ROLL_LABELS.get(c, c) for c in grid.columns], y=list(grid.index),
        text=text.to_numpy(), texttemplate="%{text}", colorscale="Blues", zmin=0, zmax=1, showscale=False,
        hovertemplate="from %{y} to %{x}: %{z:.1%}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title="bucket at month end")
    fig.update_xaxes(title="where that amount was a month later", side="bottom")
    return _layout(fig, title, height=360, legend=False).update_layout(hovermode="closest")


def roll_forward_trend(rates: pd.DataFrame, months: int = 12) -> go.Figure:
    """Per bucket before 120+, over the last `months` month ends: share of the amount that rolled to a worse
    bucket (or was written off) a month later. From current, that is the flow into delinquency."""
    if rates.empty:
        return empty("no roll rates yet")
    order = {b: i for i, b in enumerate(AGING_COLORS)}
    keep = sorted(rates["to_date"].unique())[-months:]
    frame = rates[rates["to_date"].isin(keep) & (rates["from_bucket"] != "120+")].copy()
    frame["worse"] = frame["to_state"].map(order).fillna(-1) > frame["from_bucket"].map(order)
    frame.loc[frame["to_state"] == "written_off", "worse"] = True
    total = frame.groupby(["to_date", "from_bucket"])["amount"].sum()
    worse = frame[frame["worse"]].groupby(["to_date", "from_bucket"])["amount"].sum()
    share = (worse.reindex(total.index).fillna(0) / total.where(total > 0)).rename("share").reset_index()
    fig = go.Figure()
    for bucket in [b for b in AGING_COLORS if b in set(share["from_bucket"])]:
        part = share[share["from_bucket"] == bucket]
        fig.add_trace(go.Scatter(x=_month(part["to_date"]), y=part["share"], name=f"from {bucket}",
                                 mode="lines+markers", line={"color": AGING_COLORS[bucket], "width": 2}))
    fig.update_xaxes(tickformat="%b %Y", dtick="M1" if share["to_date"].nunique() <= 8 else None)
    return _layout(fig, "Share rolling to a worse bucket (or written off) a month later", height=400,
                   y_format=".0%")


# ----------------------------------------------------------------------------------------------- declines
def decline_mix(mix: pd.DataFrame, share: bool = True) -> go.Figure:
    """Failed attempts per month by decline family (stacked bars; shares of the month or counts)."""
    if mix.empty:
        return empty("no failed payment attempts for this selection")
    frame = mix.copy()
    frame["family"] = frame["decline_family"].map(words)
    frame["value"] = frame["attempts"] / frame.groupby("attempt_period")["attempts"].transform("sum") if share \
        else frame["attempts"]
    families = frame.groupby("family")["attempts"].sum().sort_values(ascending=False).index
    fig = go.Figure()
    for i, family in enumerate(families):
        part = frame[frame["family"] == family]
        fig.add_trace(go.Bar(x=part["attempt_period"], y=part["value"], name=family,
                             marker_color=PALETTE[i % len(PALETTE)]))
    fig.update_layout(barmode="stack", bargap=0.15)
    fig.update_xaxes(tickformat="%b %Y")
    return _layout(fig, "Failed attempts by decline family" + (" (share of the month)" if share else ""),
                   height=380, y_format=".0%" if share else ",d")


def recovery_by_family(frame: pd.DataFrame) -> go.Figure:
    """Horizontal bars: amount recovered within 30 and 60 days of the first failure, by decline family."""
    if frame.empty:
        return empty("no failed payments with 30 days of history yet")
    data = frame.sort_values("failed_amount").copy()
    data["family"] = data["decline_family"].map(words)
    fig = go.Figure()
    fig.add_trace(go.Bar(y=data["family"], x=data["recovery_rate_30d"], name="within 30 days", orientation="h",
                         marker_color=BLUE, text=data["recovery_rate_30d"].map(lambda v: "" if pd.isna(v) else
                                                                                  f"{v:.0%}"),
                         textposition="outside"))
    fig.add_trace(go.Bar(y=data["family"], x=data["recovery_rate_60d"], name="within 60 days", orientation="h",
                         marker_color="#9ecae1"))
    fig.update_xaxes(tickformat=".0%", range=[0, 1.1])
    fig.update_layout(barmode="group", hovermode="y unified")
    return _layout(fig, "Share of failed amount recovered, by decline family", height=max(300, 60 + 42 * len(data)))


def recovery_curves(curve: pd.DataFrame) -> go.Figure:
    """Lines: share of failed-payment episodes recovered by day N after the first failure, per decline family."""
    if curve.empty:
        return empty("no failed payments old enough for a 60-day curve")
    frame = curve.copy()
    frame["family"] = frame["decline_family"].map(words)
    sizes = frame.groupby("family")["episodes"].first().sort_values(ascending=False)
    fig = go.Figure()
    for i, family in enumerate(sizes.index):
        part = frame[frame["family"] == family]
        fig.add_trace(go.Scatter(x=part["day"], y=part["recovered_share"], mode="lines",
                                 name=f"{family} ({sizes[family]:,})", line={"color": PALETTE[i % len(PALETTE)],
                                                                             "width": 2.5 if i < 3 else 1.5}))
    fig.update_xaxes(title="days since first failure")
    return _layout(fig, "Recovery curves by decline family (episodes in legend)", height=380, y_format=".0%")


def retry_success(by_attempt: pd.DataFrame) -> go.Figure:
    """Heatmap: success rate of the n-th attempt after the first failure, by decline family."""
    if by_attempt.empty:
        return empty("no retries yet")
    frame = by_attempt.copy()
    frame["family"] = frame["decline_family"].map(words)
    rate = frame.pivot_table(index="family", columns="retry_number", values="success_rate")
    count = frame.pivot_table(index="family", columns="retry_number", values="attempts").reindex_like(rate)
    text = rate.map(lambda v: "" if pd.isna(v) else f"{v:.0%}")
    fig = go.Figure(go.Heatmap(
        z=rate.to_numpy(), x=[int(c) for c in rate.columns], y=list(rate.index), text=text.to_numpy(),
        texttemplate="%{text}", customdata=count.fillna(0).to_numpy(), colorscale="Greens", zmin=0, zmax=1,
        showscale=False, hovertemplate="%{y}, retry %{x}: %{z:.0%} of %{customdata:,} succeeded"
                                       "<extra></extra>"))
    fig.update_xaxes(title="automatic retry after the first failure", dtick=1)
    return _layout(fig, "Success rate of automatic retries, by decline family", height=max(300, 80 + 34 * len(rate)),
                   legend=False).update_layout(hovermode="closest")


def compliance_violations(compliance: pd.DataFrame, reattempts: pd.DataFrame) -> go.Figure:
    """Bars: network-rule violations per month by rule; line: compliant share of reattempts (right axis)."""
    if reattempts.empty:
        return empty("no reattempts yet")
    fig = go.Figure()
    if not compliance.empty:
        by_rule = compliance.groupby(["attempt_period", "rule"], as_index=False)["violation_count"].sum()
        for i, rule in enumerate(sorted(by_rule["rule"].unique())):
            part = by_rule[by_rule["rule"] == rule]
            fig.add_trace(go.Bar(x=part["attempt_period"], y=part["violation_count"], name=words(rule),
                                 marker_color=PALETTE[(i + 3) % len(PALETTE)]))
    fig.add_trace(go.Scatter(x=reattempts["attempt_period"], y=reattempts["compliant_share"], yaxis="y2",
                             name="compliant share of reattempts", line={"color": "#2e7d32", "width": 2.5}))
    fig.update_yaxes(title="violations", rangemode="tozero")
    low = float(reattempts["compliant_share"].min()) if reattempts["compliant_share"].notna().any() else 1.0
    _right_axis(fig, "compliant", ".1%", range=[max(0.0, min(low, 0.99) - 0.01), 1.002])
    fig.update_layout(barmode="stack")
    fig.update_xaxes(tickformat="%b %Y")
    return _layout(fig, "Network-rule compliance of retries", height=360)


def nacha_returns(rates: pd.DataFrame) -> go.Figure:
    """Three panels: 60-day ACH return rates at each month end against their NACHA thresholds (dashed)."""
    if rates.empty:
        return empty("no ACH debits in this warehouse")
    fig = go.Figure()
    x = _month(rates["window_end"])
    layout = {}
    for i, (column, label, threshold) in enumerate(NACHA_PANELS):
        axis = "" if i == 0 else str(i + 1)
        breach = rates[column] > threshold
        fig.add_trace(go.Scatter(x=x, y=rates[column], mode="lines+markers", name=label, xaxis=f"x{axis}",
                                 yaxis=f"y{axis}", line={"color": BLUE},
                                 marker={"color": [RED if b else BLUE for b in breach],
                                         "size": [10 if b else 6 for b in breach]}))
        top = max(threshold * 1.35, float(rates[column].max() or 0) * 1.15)
        start = i * 0.36
        layout[f"xaxis{axis}"] = {"domain": [start, start + 0.28], "anchor": f"y{axis}", "tickformat": "%b %y"}
        layout[f"yaxis{axis}"] = {"anchor": f"x{axis}", "tickformat": ".1%", "range": [0, top]}
        fig.add_annotation(text=label, xref=f"x{axis} domain", x=0.5, yref="paper", y=1.02, xanchor="center",
                           yanchor="bottom", showarrow=False, font={"size": 12})
        _hline(fig, threshold, RED, f"threshold {threshold:.1%}", axis)
    fig.update_layout(**layout)
    return _layout(fig, None, height=330, legend=False, top=40)


def chargebacks(monthly: pd.DataFrame) -> go.Figure:
    """Bars: disputes opened per month; line: chargeback rate (disputes / card payments, right axis)."""
    if monthly.empty:
        return empty("no chargeback data")
    fig = go.Figure()
    fig.add_trace(go.Bar(x=monthly["period"], y=monthly["disputes_opened"], name="disputes opened",
                         marker_color="#9e9ac8"))
    fig.add_trace(go.Scatter(x=monthly["period"], y=monthly["chargeback_rate"], name="chargeback rate (right axis)",
                             line={"color": RED, "width": 2.5}, yaxis="y2"))
    fig.update_yaxes(title="disputes", rangemode="tozero")
    top = max(0.012, float(monthly["chargeback_rate"].max() or 0) * 1.15)
    _right_axis(fig, "rate", ".1%", range=[0, top])
    _hline(fig, 0.009, GREY, "0.9 %: a common card-network monitoring threshold", dash="dot", yaxis="2")
    fig.update_xaxes(tickformat="%b %Y")
    return _layout(fig, "Chargebacks", height=330)


# ----------------------------------------------------------------------------------------------- forecast
def forecast_fan(actual: pd.DataFrame, forecast: pd.DataFrame, title: str = "Cash forecast") -> go.Figure:
    """Actual daily cash (last weeks) followed by the forecast with its 80 % and 95 % intervals as bands."""
    fig = go.Figure()
    if not forecast.empty:
        x = forecast["target_date"]
        for lo, hi, fill, label in (("lo_95", "hi_95", "rgba(31,111,180,0.15)", "95 % interval"),
                                    ("lo_80", "hi_80", "rgba(31,111,180,0.30)", "80 % interval")):
            if lo in forecast and hi in forecast:
                fig.add_trace(go.Scatter(x=x, y=forecast[hi], mode="lines", line={"width": 0}, showlegend=False,
                                         hoverinfo="skip"))
                fig.add_trace(go.Scatter(x=x, y=forecast[lo], mode="lines", line={"width": 0}, fill="tonexty",
                                         fillcolor=fill, name=label, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=x, y=forecast["forecast"], name="forecast", mode="lines+markers",
                                 line={"color": BLUE, "width": 2.5}, marker={"size": 5}))
    if not actual.empty:
        fig.add_trace(go.Scatter(x=actual["report_date"], y=actual["cash_collected"], name="actual",
                                 mode="lines", line={"color": "#333333", "width": 1.8}))
    if not fig.data:
        return empty("nothing to plot")
    return _layout(fig, title, height=400, y_format="$,.3~s")


def forecast_vs_actual(history: pd.DataFrame, title: str = "Forecast vs actual") -> go.Figure:
    """Past days: what the forecast said (with its 80 % band) and what came in."""
    if history.empty:
        return empty("no past forecasts to compare yet")
    fig = go.Figure()
    if "lo_80" in history and "hi_80" in history:
        fig.add_trace(go.Scatter(x=history["target_date"], y=history["hi_80"], mode="lines", line={"width": 0},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=history["target_date"], y=history["lo_80"], mode="lines", line={"width": 0},
                                 fill="tonexty", fillcolor="rgba(31,111,180,0.2)", name="80 % interval",
                                 hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=history["target_date"], y=history["forecast"], name="forecast",
                             line={"color": BLUE, "width": 2}))
    fig.add_trace(go.Scatter(x=history["target_date"], y=history["actual"], name="actual",
                             line={"color": "#333333", "width": 1.8}))
    return _layout(fig, title, height=360, y_format="$,.3~s")


def weekly_forecast(weekly: pd.DataFrame) -> go.Figure:
    """Bars: cash expected per week for the coming weeks, with the 80 % interval as error bars."""
    if weekly.empty:
        return empty("no weekly forecast")
    fig = go.Figure(go.Bar(
        x=weekly["week_start"], y=weekly["forecast"], name="expected cash", marker_color=BLUE,
        error_y={"type": "data", "symmetric": False, "array": (weekly["hi_80"] - weekly["forecast"]).clip(lower=0),
                 "arrayminus": (weekly["forecast"] - weekly["lo_80"]).clip(lower=0), "color": "#555555"}
        if {"lo_80", "hi_80"} <= set(weekly.columns) else None,
        hovertemplate="week of %{x|%d %b}: %{y:$,.0f}<extra></extra>"))
    fig.update_xaxes(tickformat="%d %b")
    return _layout(fig, "Cash expected per week (bars: 80 % interval)", height=340, y_format="$,.3~s",
                   legend=False)


def backlog_curve(backlog: pd.DataFrame) -> go.Figure:
    """Cumulative expected recovery of today's failed-payment backlog by day, with 80 % and 95 % bands."""
    if backlog.empty:
        return empty("no failed-payment backlog forecast")
    fig = go.Figure()
    x = backlog["target_date"]
    for lo, hi, fill, label in (("cumulative_lo_95", "cumulative_hi_95", "rgba(46,125,50,0.12)", "95 % interval"),
                                ("cumulative_lo_80", "cumulative_hi_80", "rgba(46,125,50,0.28)", "80 % interval")):
        if lo in backlog and hi in backlog:
            fig.add_trace(go.Scatter(x=x, y=backlog[hi], mode="lines", line={"width": 0}, showlegend=False,
                                     hoverinfo="skip"))
            fig.add_trace(go.Scatter(x=x, y=backlog[lo], mode="lines", line={"width": 0}, fill="tonexty",
                                     fillcolor=fill, name=label, hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=x, y=backlog["cumulative_expected"], name="expected recovered (cumulative)",
                             line={"color": "#2e7d32", "width": 2.5}))
    if "backlog_amount" in backlog:
        fig.add_trace(go.Scatter(x=x, y=backlog["backlog_amount"], name="backlog today",
                                 line={"color": GREY, "dash": "dot"}))
    return _layout(fig, "Failed-payment backlog: expected recovery", height=340, y_format="$,.3~s")


def daily_cash(daily: pd.DataFrame, title: str = "Daily cash collected") -> go.Figure:
    if daily.empty:
        return empty("no daily data")
    fig = go.Figure(go.Bar(x=daily["report_date"], y=daily["cash_collected"], name="cash collected",
                           marker_color=BLUE))
    return _layout(fig, title, height=340, y_format="$,.3~s", legend=False)


# ----------------------------------------------------------------------------------------------- account 360
def account_timeline(events: pd.DataFrame) -> go.Figure:
    """One marker per event on a time axis, one row per event type; hover shows reference, amount, status."""
    if events.empty:
        return empty("no events for this account")
    frame = events.copy()
    types = [t for t in EVENT_ORDER if t in set(frame["event_type"])]
    bad = {"failed", "broken", "lost", "written_off", "open", "partly unapplied", "bounced"}
    good = {"succeeded", "paid", "kept", "won", "applied", "closed", "resolved"}
    status = frame["status"].fillna("").astype(str)
    frame["color"] = [RED if s in bad else "#2e7d32" if s in good else GREY for s in status]
    frame["ref"] = _safe_series(frame["reference"])
    frame["stat"] = _safe_series(status)
    frame["amt"] = frame["amount"].map(lambda v: "" if pd.isna(v) else f"{v:,.2f}")
    frame["cur"] = _safe_series(frame["currency"].fillna(""))
    fig = go.Figure()
    for i, kind in enumerate(types):
        part = frame[frame["event_type"] == kind]
        fig.add_trace(go.Scatter(
            x=part["event_at"], y=[kind] * len(part), mode="markers", name=kind,
            marker={"color": part["color"], "size": 11, "symbol": ["circle", "diamond", "square", "star",
                                                                    "triangle-up", "cross", "x", "pentagon",
                                                                    "hexagon", "triangle-down"][i % 10],
                    "line": {"width": 0.5, "color": "white"}},
            customdata=part[["ref", "amt", "cur", "stat"]].to_numpy(),
            hovertemplate="%{x|%d %b %Y %H:%M} %{customdata[0]}<br>%{customdata[1]} %{customdata[2]} "
                          "%{customdata[3]}<extra></extra>"))
    fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(types)))
    return _layout(fig, "Green: good outcome · red: failed, broken or still open · grey: neutral",
                   height=120 + 38 * len(types), legend=False).update_layout(hovermode="closest")


# ----------------------------------------------------------------------------------------------- close
def rollforward_waterfall(row: pd.Series, title: str) -> go.Figure:
    """Opening AR -> invoiced, cash, credits, write-offs, chargebacks -> closing AR for one period."""
    steps = [("Opening AR", row["opening_ar"], "absolute"), ("Invoiced", row["invoiced"], "relative"),
             ("Cash applied", -row["cash_applied"], "relative"), ("Credits", -row["credits"], "relative"),
             ("Write-offs", -row["write_offs"], "relative"), ("Chargebacks", row["chargebacks"], "relative"),
             ("Closing AR", row["closing_ar"], "total")]
    fig = go.Figure(go.Waterfall(
        x=[s[0] for s in steps], y=[float(s[1]) for s in steps], measure=[s[2] for s in steps],
        text=[f"{float(s[1]):,.0f}" for s in steps], textposition="outside",
        increasing={"marker": {"color": ORANGE}}, decreasing={"marker": {"color": BLUE}},
        totals={"marker": {"color": "#455a64"}}, connector={"line": {"color": GREY}}))
    fig.update_yaxes(tickformat=",.3~s")
    return _layout(fig, title, height=360, legend=False)


def quarantine_bars(summary: pd.DataFrame) -> go.Figure:
    if summary.empty:
        return empty("nothing quarantined in the last load")
    frame = summary.groupby("entity", as_index=False)["rows"].sum().sort_values("rows")
    fig = go.Figure(go.Bar(y=frame["entity"].map(words), x=frame["rows"], orientation="h", marker_color=RED))
    return _layout(fig, "Quarantined rows by entity", height=max(220, 60 + 30 * len(frame)), legend=False)
