"""Cash forecast report (reports/forecast_report.md) and its oracle section (reports/forecast_evaluation.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

MODEL_NAMES = {
    "seasonal_naive": "Seasonal naive (same weekday last week)",
    "moving_average": "Moving average (28 days)",
    "calendar_regression": "Calendar regression (time series)",
    "bottom_up": "Bottom-up (open items + new billing)",
    "combination": "Combination",
    "oracle": "Oracle (simulator's expected cash)",
}
HISTORY_DAYS = 120
FAN_DAYS = 42


def accuracy_markdown(table: pd.DataFrame) -> str:
    lines = ["| model | WAPE | MASE | bias | 80 % coverage | 95 % coverage | weekly WAPE | weekly 80 % cov. |",
             "|---|---|---|---|---|---|---|---|"]
    for r in table.to_dict("records"):
        def pct(v):
            return "n/a" if v is None or pd.isna(v) else f"{v:.1%}"

        lines.append(f"| {MODEL_NAMES.get(r['model'], r['model'])} | {r['wape']:.1%} | {r['mase']:.3f} | "
                     f"{r['bias']:+.1%} | {pct(r.get('coverage_80'))} | {pct(r.get('coverage_95'))} | "
                     f"{pct(r.get('weekly_wape'))} | {pct(r.get('weekly_coverage_80'))} |")
    return "\n".join(lines) + "\n"


def money(v: float) -> str:
    return f"{v:,.0f}"


def plot_fan(history: pd.Series, forecast: pd.DataFrame, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(10, 4.2))
    recent = history.iloc[-HISTORY_DAYS:]
    ax.plot(recent.index, recent.to_numpy(), color="black", linewidth=0.9, label="cash received")
    f = forecast.iloc[:FAN_DAYS]
    ax.fill_between(f["target_date"], f["lo_95"], f["hi_95"], color="tab:blue", alpha=0.15, label="95 % interval")
    ax.fill_between(f["target_date"], f["lo_80"], f["hi_80"], color="tab:blue", alpha=0.3, label="80 % interval")
    ax.plot(f["target_date"], f["forecast"], color="tab:blue", linewidth=1.4, label="expected")
    ax.set_title(title)
    ax.set_ylabel("cash per day (reporting currency)")
    ax.legend(fontsize=8, loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_backtest(backtest: pd.DataFrame, table: pd.DataFrame, path: Path, extra: pd.DataFrame | None = None) -> None:
    """Left: WAPE by model. Right: actual vs forecast per day of the latest window (total)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1.6]})
    names = [MODEL_NAMES.get(m, m).split(" (")[0] for m in table["model"]]
    left.barh(names, table["wape"], color="tab:gray")
    left.invert_yaxis()
    left.set_xlabel("daily WAPE over the backtest windows")
    total = backtest[backtest["series_id"] == "total"]
    last = total[total["cutoff"] == total["cutoff"].max()]
    first = last[last["model"] == "combination"]
    right.plot(first["date"], first["actual"], color="black", label="actual")
    for model in ("seasonal_naive", "calendar_regression", "bottom_up", "combination"):
        part = last[last["model"] == model]
        right.plot(part["date"], part["forecast"], label=model, linewidth=1)
    if extra is not None:
        part = extra[(extra["model"] == "oracle") & (extra["cutoff"] == last["cutoff"].max())]
        right.plot(part["date"], part["forecast"], label="oracle", linestyle=":", color="purple")
    right.set_title(f"latest window (cutoff {pd.Timestamp(last['cutoff'].max()).date()})")
    right.legend(fontsize=7)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_backlog(backlog: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.fill_between(backlog["day"], backlog["cumulative_lo_95"], backlog["cumulative_hi_95"], alpha=0.15,
                    color="tab:green", label="95 % interval")
    ax.fill_between(backlog["day"], backlog["cumulative_lo_80"], backlog["cumulative_hi_80"], alpha=0.3,
                    color="tab:green", label="80 % interval")
    ax.plot(backlog["day"], backlog["cumulative_expected"], color="tab:green", label="expected")
    ax.set_xlabel("days from today")
    ax.set_ylabel("cumulative amount recovered")
    ax.set_title("Failed-payment backlog: expected recovery")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_forecast_report(folder: Path, run) -> Path:
    """reports/forecast_report.md with a fan chart, backtest table and plot, AR projection and backlog recovery.

    `run` is the ForecastRun returned by run_cash_forecasts.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    daily = run.daily
    total = daily[(daily["series_id"] == "total") & (daily["model"] == "reconciled")].reset_index(drop=True)
    plot_fan(run.history["total"], total, folder / "forecast_fan.png", f"Daily cash: history and forecast "
             f"as of {run.as_of}")
    table = run.accuracy[run.accuracy["series_id"] == "total"]
    plot_backtest(run.backtest.rename(columns={"target_date": "date"}), table, folder / "forecast_backtest.png")
    if not run.backlog.empty:
        plot_backlog(run.backlog, folder / "forecast_backlog.png")
    bdays = total[total["business_day"].notna() & (total["business_day"] <= 30)]
    next_days = "\n".join(
        f"| {r.business_day} | {pd.Timestamp(r.target_date).date()} | {money(r.forecast)} | {money(r.lo_80)} - "
        f"{money(r.hi_80)} | {money(r.lo_95)} - {money(r.hi_95)} |" for r in bdays.head(10).itertuples())
    weekly = run.weekly[run.weekly["series_id"] == "total"]
    weeks = "\n".join(
        f"| {r.week} | {pd.Timestamp(r.week_start).date()} - {pd.Timestamp(r.week_end).date()} | {money(r.forecast)} | "
        f"{money(r.lo_80)} - {money(r.hi_80)} | {money(r.lo_95)} - {money(r.hi_95)} |" for r in weekly.itertuples())
    ar = "\n".join(
        f"| {r.target.replace('_', ' ')} {pd.Timestamp(r.target_date).date()} | {money(r.opening_ar)} | "
        f"{money(r.expected_invoicing)} | {money(r.expected_cash)} | {money(r.expected_write_offs)} | "
        f"**{money(r.closing_ar)}** | {money(r.lo_80)} - {money(r.hi_80)} | {money(r.lo_95)} - {money(r.hi_95)} |"
        for r in run.ar_projection.itertuples())
    if run.backlog.empty:
        backlog = "No failed payment is open today."
    else:
        b = run.backlog.set_index("day")
        rows = "\n".join(
            f"| {d} | {money(b.loc[d, 'cumulative_expected'])} | {money(b.loc[d, 'cumulative_lo_80'])} - "
            f"{money(b.loc[d, 'cumulative_hi_80'])} | {money(b.loc[d, 'cumulative_lo_95'])} - "
            f"{money(b.loc[d, 'cumulative_hi_95'])} |" for d in (7, 14, 30, 60) if d in b.index)
        backlog = (f"{int(b['backlog_items'].iloc[0])} open failed payments, {money(b['backlog_amount'].iloc[0])} "
                   "in total.\n\n| days | expected recovered | 80 % | 95 % |\n|---|---|---|---|\n" + rows
                   + "\n\n![backlog recovery](forecast_backlog.png)")
    by_series = run.accuracy[run.accuracy["model"] == "combination"]
    series_lines = "\n".join(
        f"| {r.series_id} | {run.weights.get(r.series_id, float('nan')):.1f} | {r.wape:.1%} | {r.bias:+.1%} | "
        f"{r.coverage_80:.1%} | {r.coverage_95:.1%} |" for r in by_series.itertuples())
    text = f"""# Cash forecast

As of {run.as_of}. Cash = payments received (reporting currency) by effective date. Every figure is an expected
value with 80 % and 95 % prediction intervals. Tables: models.cash_forecast (daily, every model and series),
models.cash_forecast_weekly, models.forecast_backtest, models.forecast_accuracy, models.ar_projection,
models.backlog_recovery.

![fan chart](forecast_fan.png)

## Next 10 business days (total, reconciled combination)
| business day | date | expected | 80 % | 95 % |
|---|---|---|---|---|
{next_days}

## Next 13 weeks (total)
| week | days | expected | 80 % | 95 % |
|---|---|---|---|---|
{weeks}

## Closing AR
| period end | AR today | + invoicing | - cash | - write-offs | = closing AR | 80 % | 95 % |
|---|---|---|---|---|---|---|---|
{ar}

Invoicing is the expected recurring billing (accounts billed monthly in the last 35 days, annual renewals);
bounds reflect the cash forecast's cumulative backtest error only.

## Failed-payment backlog
{backlog}

## Method
- **Calendar regression**: weighted least squares of sqrt(daily cash) on weekday, public holiday (US), catch-up
  after closed days, first / mid-month / last business day (paydays and accounts-payable runs), quarter end, first
  and last three days of the month, the 16th-17th and the 28th; recent days weigh more (half-life one year).
- **Bottom-up**: each open invoice's balance times the chance it is paid on each coming day, from payment-timing
  hazards by segment, billing method and payer profile learned from history, plus expected recurring billing.
  Card charges are timed in days and ACH debits in business days from the due date; a customer paying an invoice
  is timed by the day it means to pay, and the money lands on the next business day, or on the next
  accounts-payable run (15th-or-next, last business day) for payers on runs. Items with a risk score are
  rescaled to their 30-day recovery probability (live forecast only: the backtest has no point-in-time scores).
- **Combination**: w x calendar regression + (1 - w) x bottom-up, w chosen on inner rolling windows inside the
  training history; breakdowns are reconciled to the total proportionally.
- Intervals: empirical quantiles of rolling-window errors on a square-root scale (business and closed days kept
  apart); weeks add daily variances.

## Backtest ({int(table['windows'].max())} origins a week apart, 30 days ahead, total)
{accuracy_markdown(table)}
WAPE = sum |forecast - actual| / sum actual; MASE = mean absolute error / mean absolute same-weekday-last-week
change in the training year; bias = (sum forecast - sum actual) / sum actual; coverage = share of actual days
inside the interval.

![backtest](forecast_backtest.png)

### Combination by series
| series | weight on the regression | WAPE | bias | 80 % coverage | 95 % coverage |
|---|---|---|---|---|---|
{series_lines}
"""
    path = folder / "forecast_report.md"
    path.write_text(text)
    return path


def write_forecast_oracle_report(folder: Path, table: pd.DataFrame, backtest: pd.DataFrame, as_of: str) -> Path:
    """reports/forecast_evaluation.md: the backtest against the oracle, with the targets (generated data only)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    get = table.set_index("model")
    plot_backtest(backtest[backtest["model"] != "oracle"], table[table["model"] != "oracle"],
                  folder / "forecast_oracle.png", extra=backtest)
    model = get.loc["combination"]
    naive = get.loc["seasonal_naive", "wape"]
    oracle = get.loc["oracle", "wape"]
    checks = [
        ("daily WAPE at least 25 % better than seasonal naive", model["wape"] <= 0.75 * naive,
         f"{model['wape']:.1%} vs {naive:.1%} ({1 - model['wape'] / naive:.0%} better)"),
        ("daily WAPE within 15 % of the oracle's", model["wape"] <= 1.15 * oracle,
         f"{model['wape']:.1%} vs {oracle:.1%} ({model['wape'] / oracle - 1:+.0%})"),
        ("80 % intervals cover 75-85 % of actual days", 0.75 <= model["coverage_80"] <= 0.85,
         f"{model['coverage_80']:.1%}"),
    ]
    lines = "\n".join(f"| {name} | {value} | {'met' if ok else 'MISSED'} |" for name, ok, value in checks)
    text = f"""# Cash forecast evaluation against the oracle

As of {as_of}: the rolling-origin backtest of the total daily cash with the oracle as one more forecaster. The
oracle is the simulator's expected receipts per day (truth/expected_cash_daily): it knows every invoice's true
payment behaviour (including which payers wait for an accounts-payable run), so its error is the noise no model
can remove.

{accuracy_markdown(table)}
| target | measured | status |
|---|---|---|
{lines}

![backtest with the oracle](forecast_oracle.png)
"""
    path = folder / "forecast_evaluation.md"
    path.write_text(text)
    return path


__all__ = ["write_forecast_oracle_report", "write_forecast_report"]
