"""AppTest of every dashboard page on a small built warehouse: renders, filters, fallbacks, the empty warehouse,
and the pure layers under the pages (queries, exports, the swap-following connection)."""

from __future__ import annotations

import io
import math
import os
import shutil
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data, exports
from dashboards.app_pages import PAGES

APP_FILE = Path(__file__).resolve().parents[2] / "dashboards" / "app.py"
PAGE_IDS = [url for _, _, url in PAGES]


def run_page(page: str) -> AppTest:
    """A fresh AppTest of the app, switched to one page (path relative to dashboards/), after its first run."""
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    if page != PAGES[0][0]:
        at.switch_page(page)
    return at.run()


def page_file(url_path: str) -> str:
    return next(path for path, _, url in PAGES if url == url_path)


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    """The first dataframe on the page that has this column."""
    for element in at.dataframe:
        if column in element.value.columns:
            return element.value
    found = [list(d.value.columns) for d in at.dataframe]
    raise AssertionError(f"no dataframe with column {column!r}; columns: {found}")


def plotly_charts(at: AppTest) -> list:
    return list(at.get("plotly_chart"))


# ----------------------------------------------------------------------------------------------- every page
@pytest.mark.parametrize("url_path", PAGE_IDS)
def test_every_page_renders(app_warehouse, use_warehouse, url_path):
    use_warehouse(app_warehouse)
    at = run_page(page_file(url_path))
    assert_clean(at)
    title = next(t for _, t, u in PAGES if u == url_path)
    assert at.title[0].value == title
    assert plotly_charts(at) or at.dataframe, "a page shows at least one chart or table"
    assert not [i for i in at.info if "make demo" in i.value], "a built warehouse must not show the build help"


@pytest.mark.parametrize("kind", ["missing", "empty file", "not a warehouse"])
def test_every_page_explains_how_to_build_without_a_warehouse(tmp_path, use_warehouse, kind):
    path = tmp_path / "warehouse.duckdb"
    if kind == "empty file":
        path.write_bytes(b"")
    elif kind == "not a warehouse":
        con = duckdb.connect(str(path))
        con.execute("create table unrelated as select 1 as x")
        con.close()
    use_warehouse(path)
    for page, title, _ in PAGES:
        at = run_page(page)
        assert not at.exception, (title, [e.value for e in at.exception])
        help_text = " ".join(i.value for i in at.info)
        assert "make demo" in help_text and "dunning build --raw DIR --warehouse FILE" in help_text, title
        assert not at.dataframe and not plotly_charts(at), title


# ----------------------------------------------------------------------------------------------- filters
def test_overview_kpis_follow_the_dimension_filter(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("overview"))
    before = {m.label: m.value for m in at.metric}
    assert any(label.startswith("DSO") for label in before)
    at.selectbox(key="overview_dimension").set_value("segment").run()
    assert_clean(at)
    segment = at.selectbox(key="overview_value_segment")
    assert set(segment.options) >= {"smb"}
    segment.set_value("smb").run()
    assert_clean(at)
    after = {m.label: m.value for m in at.metric}
    assert before["Open AR"] != after["Open AR"], "one segment's open AR differs from the whole book's"


def test_aging_filters_and_drill_down(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("aging"))
    accounts = frame_with(at, "max_days_past_due")
    segments = sorted(accounts["segment"].unique())
    at.multiselect(key="aging_segments").set_value([segments[0]]).run()
    assert_clean(at)
    filtered = frame_with(at, "max_days_past_due")
    assert set(filtered["segment"]) == {segments[0]}
    assert len(filtered) < len(accounts) or len(segments) == 1

    collector = filtered["collector"].iloc[0]
    at.selectbox(key="aging_collector").set_value(collector).run()
    assert set(frame_with(at, "max_days_past_due")["collector"]) == {collector}

    at.multiselect(key="aging_segments").set_value([]).run()
    at.selectbox(key="aging_collector").set_value("All collectors").run()
    at.selectbox(key="aging_bucket").set_value("current").run()
    current = frame_with(at, "max_days_past_due")
    assert (current["max_days_past_due"] <= 0).all(), "the current bucket holds no past-due invoice"
    account = current["account_id"].iloc[-1]
    at.selectbox(key="aging_account").set_value(account).run()
    assert_clean(at)
    invoices = frame_with(at, "aging_bucket")
    assert len(invoices) and "current" in set(invoices["aging_bucket"])


def test_aging_roll_rate_month_filter(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("aging"))
    month = at.selectbox(key="aging_roll_month")
    assert len(month.options) > 1
    month.set_value(month.options[1]).run()  # one specific transition instead of the 3-month average
    assert_clean(at)
    at.toggle(key="aging_share").set_value(True).run()
    assert_clean(at)


def test_declines_method_filter_changes_the_tables(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("declines"))
    both = frame_with(at, "failed_count")
    at.selectbox(key="declines_method").set_value("card").run()
    assert_clean(at)
    card = frame_with(at, "failed_count")
    assert card["failed_count"].sum() <= both["failed_count"].sum()
    at.selectbox(key="declines_method").set_value("ach_debit").run()
    assert_clean(at)
    ach = frame_with(at, "failed_count") if any("failed_count" in d.value.columns for d in at.dataframe) else None
    ach_total = 0 if ach is None else ach["failed_count"].sum()
    assert card["failed_count"].sum() + ach_total == both["failed_count"].sum()
    assert len(plotly_charts(at)) >= 4


def test_worklist_filters(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("worklist"))
    full = frame_with(at, "rank")
    assert {"why", "next_action", "exposure"} <= set(full.columns)
    assert full["why"].str.len().gt(0).all(), "every worklist row says why"

    collector = full["collector"].value_counts().index[0]
    at.selectbox(key="worklist_collector").set_value(collector).run()
    mine = frame_with(at, "rank")
    assert set(mine["collector"]) == {collector} and len(mine) < len(full)

    at.selectbox(key="worklist_collector").set_value("All collectors").run()
    segment = full["segment"].value_counts().index[-1]
    raw_segment = {data_label.replace("_", " "): data_label for data_label in
                   at.multiselect(key="worklist_segments").options}.get(segment, segment)
    at.multiselect(key="worklist_segments").set_value([raw_segment]).run()
    assert set(frame_with(at, "rank")["segment"]) == {segment}

    at.multiselect(key="worklist_segments").set_value([]).run()
    # A threshold on the slider's 0.05 grid that some accounts pass and some do not (when the book allows).
    cut = max(0.05, math.floor(full["max_probability"].quantile(0.75) / 100 * 20) / 20)
    at.slider(key="worklist_min_probability").set_value(cut).run()
    risky = frame_with(at, "rank") if (full["max_probability"] >= cut * 100 - 1e-9).any() else full.iloc[:0]
    assert len(risky) == (full["max_probability"] >= cut * 100 - 1e-9).sum() > 0
    assert (risky["max_probability"] >= cut * 100 - 1e-9).all() and len(risky) < len(full)

    at.slider(key="worklist_min_probability").set_value(0.0).run()
    action = at.multiselect(key="worklist_actions").options[0]
    at.multiselect(key="worklist_actions").set_value([action]).run()
    assert_clean(at)
    assert set(frame_with(at, "rank")["next_action"]) == {action.replace("_", " ")}
    assert len(at.get("download_button")) == 3  # worklist CSV and Excel, cases CSV


def _table_rows(warehouse, sql: str) -> int:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchone()[0]
    finally:
        con.close()


def test_declines_page_lists_the_next_retries(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("declines"))
    assert_clean(at)
    plan = frame_with(at, "rule_note")
    assert len(plan) == _table_rows(app_warehouse, "select count(*) from models.retry_recommendations") > 0
    # Retries first, soonest first; then the payments not to retry.
    assert plan["do_not_retry"].is_monotonic_increasing
    retries = plan[~plan["do_not_retry"]]
    assert retries["recommended_at"].is_monotonic_increasing and retries["recommended_at"].notna().all()
    at.selectbox(key="declines_method").set_value("card").run()
    card = frame_with(at, "rule_note")
    assert len(card) == _table_rows(app_warehouse, "select count(*) from models.retry_recommendations "
                                                   "where attempt_method = 'card'")
    assert set(card["attempt_method"]) == {"card"}


def test_worklist_page_lists_the_cases_to_open(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("worklist"))
    assert_clean(at)
    cases = frame_with(at, "subject")
    assert len(cases) == _table_rows(app_warehouse, "select count(*) from models.cases_to_open") > 0
    order = {"High": 0, "Medium": 1, "Low": 2}
    assert cases["priority"].map(order).is_monotonic_increasing
    assert cases["account_name"].notna().all()


def test_worklist_falls_back_to_risk_scores(warehouse_without_worklist, use_warehouse):
    use_warehouse(warehouse_without_worklist)
    at = run_page(page_file("worklist"))
    assert_clean(at)
    assert any("models.risk_scores" in c.value for c in at.caption)
    items = frame_with(at, "invoice_id")
    item_type = items["item_type"].value_counts().index[0]
    option = next(o for o in at.multiselect(key="worklist_actions").options if o.replace("_", " ") == item_type)
    at.multiselect(key="worklist_actions").set_value([option]).run()
    assert set(frame_with(at, "invoice_id")["item_type"]) == {item_type}


def test_forecast_page_without_a_forecast(warehouse_without_forecast, use_warehouse):
    use_warehouse(warehouse_without_forecast)
    at = run_page(page_file("forecast"))
    assert_clean(at)
    assert any("No forecast in this warehouse yet" in i.value for i in at.info)
    assert plotly_charts(at), "actual cash is still shown"


def test_forecast_page_series_and_model_filters(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    if not data.Warehouse(app_warehouse).has("models.cash_forecast"):
        pytest.skip("this build wrote no forecast")
    at = run_page(page_file("forecast"))
    assert_clean(at)
    assert at.selectbox(key="forecast_series").value == "total"
    assert at.selectbox(key="forecast_model").value == "reconciled"
    total = frame_with(at, "target_date")
    labels = {m.label for m in at.metric}
    assert {"Next 7 days", "Next 30 days", "WAPE"} <= labels
    assert any(label.startswith("Closing AR at month end") for label in labels)
    assert len(plotly_charts(at)) >= 3

    series = data.values_of(data.forecast_options(data.Warehouse(app_warehouse)), "series")
    segment = next(v for v in series if v.startswith("segment:"))
    at.selectbox(key="forecast_series").set_value(segment).run()
    assert_clean(at)
    part = frame_with(at, "target_date")
    assert part["forecast"].sum() < total["forecast"].sum()
    at.selectbox(key="forecast_model").set_value("seasonal_naive").run()
    assert_clean(at)
    assert not frame_with(at, "target_date")["forecast"].equals(part["forecast"])


def test_forecast_page_shows_how_kept_forecasts_did(warehouse_with_kept_forecasts, use_warehouse):
    use_warehouse(warehouse_with_kept_forecasts)
    wh = data.Warehouse(warehouse_with_kept_forecasts)
    kept = data.kept_forecasts(wh, series="total", model="reconciled")
    as_of = pd.Timestamp(data.build_info(wh)["as_of_date"].iloc[0])
    # Today's forecast has no day known yet; the two earlier ones have 14 and 28.
    assert list(pd.to_datetime(kept["forecast_date"])) == [as_of - pd.Timedelta(days=14),
                                                         as_of - pd.Timedelta(days=28)]
    assert list(kept["days_known"]) == [14, 28]
    past = data.kept_forecast(wh, made_on=str((as_of - pd.Timedelta(days=14)).date()), series="total",
                              model="reconciled")
    assert len(past) == 14 and (pd.to_datetime(past["target_date"]) <= as_of).all()
    row = kept.iloc[0]
    assert row["wape"] == pytest.approx((past["forecast"] - past["actual"]).abs().sum() / past["actual"].sum())
    actual = wh.query("select effective_date, sum(payment_amount_reporting) as cash from marts.fct_payments "
                      "group by all").set_index("effective_date")["cash"]
    assert past.set_index("target_date")["actual"].to_dict() == pytest.approx(
        actual.reindex(past["target_date"]).fillna(0).to_dict())
    segment = data.kept_forecasts(wh, series="segment:smb", model="reconciled")
    assert segment["actual"].iloc[0] < row["actual"]  # a series' own actual cash, not the total's

    at = run_page(page_file("forecast"))
    assert_clean(at)
    shown = frame_with(at, "days_known")
    assert len(shown) == 2  # the earlier builds' forecasts, not today's
    assert at.selectbox(key="kept_forecast_date").value == (as_of - pd.Timedelta(days=14)).date()
    assert at.get("plotly_chart")  # forecast vs actual of the chosen forecast


def test_forecast_page_reads_the_minimal_layout(warehouse_with_minimal_forecast, use_warehouse):
    use_warehouse(warehouse_with_minimal_forecast)
    at = run_page(page_file("forecast"))
    assert_clean(at)
    assert not any("No forecast" in i.value for i in at.info)
    labels = {m.label for m in at.metric}
    assert {"Next 7 days", "Whole horizon (14 days)", "WAPE", "80 % interval coverage"} <= labels
    assert len(plotly_charts(at)) == 2


def test_account_360_search_and_pick(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("account"))
    assert_clean(at)
    first = at.selectbox(key="account_pick").value
    timeline = frame_with(at, "event_type")
    assert {"invoice", "payment attempt"} & set(timeline["event_type"])

    at.text_input(key="account_search").input("ACC-00001").run()
    picker = at.selectbox(key="account_pick")
    assert picker.options and all(o.startswith("ACC-00001") for o in picker.options)
    other = next(a for a in [o.split(" · ")[0] for o in picker.options] if a != first)
    picker.set_value(other).run()
    assert_clean(at)
    assert any(other in c.value.replace("\\", "") for c in at.caption)
    at.selectbox(key="account_span").set_value("Everything").run()
    assert_clean(at)

    at.text_input(key="account_search").input("no such account zzz").run()
    assert any("No account matches" in i.value for i in at.info)


def test_quality_page_filters(app_warehouse, use_warehouse):
    use_warehouse(app_warehouse)
    at = run_page(page_file("quality"))
    assert_clean(at)
    labels = {m.label: m.value for m in at.metric}
    assert labels["Rows accounted for"] == "all"
    checks = frame_with(at, "ledger_difference")
    assert checks["ties_out"].all(), checks
    currencies = at.selectbox(key="quality_currency").options
    assert len(currencies) > 1
    at.selectbox(key="quality_currency").set_value(currencies[1]).run()
    assert_clean(at)
    one = frame_with(at, "ledger_difference")
    assert one["ties_out"].all()
    assert not one["closing_ar"].equals(checks["closing_ar"])


def test_no_page_renders_html_from_data():
    root = APP_FILE.parent
    for path in [APP_FILE, *root.glob("*.py"), *(root / "app_pages").glob("*.py")]:
        text = path.read_text()
        assert "unsafe_allow_html" not in text, path
        assert "st.html" not in text and "components.html" not in text, path
        assert ":material/" not in text, path


# ----------------------------------------------------------------------------------------------- data layer
def test_page_queries_run_without_streamlit(app_warehouse):
    timings = data.time_pages(app_warehouse, repeats=1)
    assert list(timings["page"]) == PAGE_IDS
    assert (timings["rows"] > 0).all()
    assert timings["best_seconds"].max() < 5


def test_warehouse_follows_an_atomic_swap(app_warehouse, tmp_path):
    live = tmp_path / "warehouse.duckdb"
    shutil.copyfile(app_warehouse, live)
    wh = data.Warehouse(live)
    before = int(wh.query("select count(*) as n from marts.dim_accounts")["n"].iloc[0])

    rebuilt = tmp_path / ".warehouse.duckdb.building"
    shutil.copyfile(app_warehouse, rebuilt)
    con = duckdb.connect(str(rebuilt))
    con.execute("delete from marts.dim_accounts where account_id in "
                "(select account_id from marts.dim_accounts order by account_id limit 10)")
    con.execute("checkpoint")
    con.close()
    os.replace(rebuilt, live)  # what pipelines.warehouse.building does

    after = int(wh.query("select count(*) as n from marts.dim_accounts")["n"].iloc[0])
    assert after == before - 10, "the reader reopened the swapped-in file"

    live.unlink()
    with pytest.raises(data.WarehouseUnavailable) as excinfo:
        wh.query("select 1")
    assert excinfo.value.kind == "missing"


def test_a_running_app_shows_a_swapped_in_build(app_warehouse, warehouse_without_worklist, use_warehouse, tmp_path):
    live = use_warehouse(tmp_path / "warehouse.duckdb")
    shutil.copyfile(app_warehouse, live)
    at = run_page(page_file("worklist"))
    assert_clean(at)
    assert not any("models.risk_scores" in c.value for c in at.caption)

    staged = tmp_path / ".warehouse.duckdb.building"
    shutil.copyfile(warehouse_without_worklist, staged)
    os.replace(staged, live)
    at.run()  # the same session, after the swap: new file, new cache keys
    assert_clean(at)
    assert any("models.risk_scores" in c.value for c in at.caption)

    live.unlink()
    at.run()
    assert not at.exception
    assert any("make demo" in i.value for i in at.info)


def test_a_query_is_retried_once_on_a_duckdb_error(app_warehouse, monkeypatch):
    wh = data.Warehouse(app_warehouse)
    wh.query("select 1")
    calls = []
    real_connect = data.Warehouse._connect

    def flaky(self, force=False):
        calls.append(force)
        cursor, catalog = real_connect(self, force)
        if len(calls) == 1:
            cursor.close()  # a cursor whose connection went away under it
        return cursor, catalog

    monkeypatch.setattr(data.Warehouse, "_connect", flaky)
    assert int(wh.query("select 41 + 1 as x")["x"].iloc[0]) == 42
    assert calls == [False, True]


def test_worklist_query_filters(app_warehouse):
    wh = data.Warehouse(app_warehouse)
    everything = data.worklist(wh)
    assert everything["rank"].is_monotonic_increasing
    collector = everything["collector"].iloc[0]
    cut = float(everything.loc[everything["collector"] == collector, "max_probability"].median())
    one = data.worklist(wh, collector=collector, min_probability=cut)
    assert set(one["collector"]) == {collector}
    assert (one["max_probability"].fillna(0) >= cut).all()


# ----------------------------------------------------------------------------------------------- exports
DANGEROUS = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"]


def test_exports_neutralise_formulas():
    frame = pd.DataFrame({"account_name": DANGEROUS, "exposure": [-1.5] * len(DANGEROUS),
                          "=cmd": ["x"] * len(DANGEROUS)})
    csv = exports.to_csv_bytes(frame).decode("utf-8-sig")
    read = pd.read_csv(io.StringIO(csv), keep_default_na=False)
    for original, cell in zip(DANGEROUS, read["account_name"], strict=True):
        if original.startswith(exports.FORMULA_STARTS):
            assert cell.startswith("'") and cell[1:].strip() == original.strip()
        else:
            assert cell == original
    assert list(read.columns)[2] == "'=cmd"
    assert (read["exposure"] == -1.5).all(), "numbers stay numbers"

    book = openpyxl.load_workbook(io.BytesIO(exports.to_excel_bytes(frame)))
    sheet = book.active
    values = [sheet.cell(row=i + 2, column=1).value for i in range(len(DANGEROUS))]
    for original, cell in zip(DANGEROUS, values, strict=True):
        if original.startswith(exports.FORMULA_STARTS):
            assert cell == ("'" + original).replace("\r", "\n")  # XML stores a bare CR as LF
        else:
            assert cell == original
    assert all(sheet.cell(row=i + 2, column=1).data_type == "s" for i in range(len(DANGEROUS)))
    assert sheet.cell(row=2, column=2).value == -1.5
