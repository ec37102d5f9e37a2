"""The public forecasting engine's contract, backtest mechanics, the bottom-up engine's point-in-time rule and
determinism. Synthetic series only: fast, no warehouse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models_ml.forecasting import forecast_daily_cash, prepare_series
from models_ml.forecasting.backtest import accuracy, cross_validation, cutoffs
from models_ml.forecasting.bottom_up import AP_RUNS, BUSINESS, Book, BottomUpEngine, _day
from models_ml.forecasting.calendar import calendar_features, day_classes
from models_ml.forecasting.ensemble import ScaledErrors
from models_ml.forecasting.models import Forecaster, SeasonalNaive

COLUMNS = ["date", "forecast", "lo_80", "hi_80", "lo_95", "hi_95"]


def synthetic_cash(start="2023-01-02", end="2023-12-15", seed=0) -> pd.Series:
    """Receipts with a strong Monday effect, nothing at weekends, a dip on US public holidays, noise."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(start, end, freq="D")
    base = np.where(days.dayofweek == 0, 300.0, np.where(days.dayofweek < 5, 100.0, 5.0))
    holiday = calendar_features(days, "US")["holiday"].to_numpy() > 0
    base = np.where(holiday, 10.0, base)
    return pd.Series(base * rng.lognormal(0, 0.25, len(days)), index=days, name="cash")


def assert_contract(frame: pd.DataFrame, series: pd.Series, horizon: int):
    assert list(frame.columns) == COLUMNS
    assert len(frame) == horizon
    last = pd.to_datetime(series.index).max()
    expected = pd.date_range(last + pd.Timedelta(days=1), periods=horizon, freq="D")
    assert (pd.DatetimeIndex(frame["date"]) == expected).all()
    assert frame[COLUMNS[1:]].notna().all().all()
    assert (frame["lo_95"] <= frame["lo_80"]).all()
    assert (frame["lo_80"] <= frame["forecast"]).all()
    assert (frame["forecast"] <= frame["hi_80"]).all()
    assert (frame["hi_80"] <= frame["hi_95"]).all()
    assert (frame[COLUMNS[1:]] >= 0).all().all()


def test_contract_shape_dates_monotone_nonnegative():
    series = synthetic_cash()
    frame = forecast_daily_cash(series, 30)
    assert_contract(frame, series, 30)


def test_weekday_and_holiday_effects_are_visible():
    series = synthetic_cash()  # ends 2023-12-15; 2023-12-25 (Christmas) is a Monday
    frame = forecast_daily_cash(series, 30).set_index("date")
    weekday = frame.index.dayofweek
    holiday = calendar_features(frame.index, "US")["holiday"].to_numpy() > 0  # 2023-12-25 and 2024-01-01
    mondays = frame[(weekday == 0) & ~holiday]["forecast"]
    midweek = frame[weekday.isin([1, 2, 3]) & ~holiday]["forecast"]
    assert mondays.mean() > 2 * midweek.mean()
    assert frame.loc["2023-12-25", "forecast"] < 0.3 * mondays.mean()
    assert frame[weekday >= 5]["forecast"].max() < 0.3 * midweek.mean()


def test_intervals_cover_about_their_level_on_a_stationary_series():
    series = synthetic_cash(end="2024-06-30")
    train, test = series[:"2024-05-31"], series["2024-06-01":]
    frame = forecast_daily_cash(train, len(test)).set_index("date")
    inside = (test >= frame["lo_80"]) & (test <= frame["hi_80"])
    assert 0.6 <= inside.mean() <= 0.97


def test_custom_levels_name_the_columns():
    frame = forecast_daily_cash(synthetic_cash(), 7, levels=(50, 90))
    assert list(frame.columns) == ["date", "forecast", "lo_50", "hi_50", "lo_90", "hi_90"]
    assert (frame["lo_90"] <= frame["lo_50"]).all() and (frame["hi_50"] <= frame["hi_90"]).all()


def test_short_series_uses_the_weekday_profile():
    series = synthetic_cash(end="2023-01-25")  # 24 days
    frame = forecast_daily_cash(series, 14)
    assert_contract(frame, series, 14)
    by_day = frame.set_index("date")["forecast"]
    assert by_day[by_day.index.dayofweek == 0].min() > by_day[by_day.index.dayofweek == 2].max()


def test_single_day_series_works():
    series = pd.Series([120.0], index=pd.to_datetime(["2024-03-01"]))
    assert_contract(forecast_daily_cash(series, 3), series, 3)


def test_gappy_series_missing_days_are_zero():
    series = synthetic_cash()
    rng = np.random.default_rng(1)
    gappy = series[rng.random(len(series)) > 0.2]
    prepared = prepare_series(gappy)
    assert len(prepared) == (gappy.index.max() - gappy.index.min()).days + 1
    missing = prepared.index.difference(gappy.index)
    assert len(missing) > 0 and (prepared[missing] == 0).all()
    assert_contract(forecast_daily_cash(gappy, 10), gappy, 10)


def test_date_like_index_and_unsorted_input():
    series = synthetic_cash(end="2023-04-30")
    as_strings = pd.Series(series.to_numpy(), index=[d.strftime("%Y-%m-%d") for d in series.index])
    shuffled = as_strings.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(forecast_daily_cash(shuffled, 5), forecast_daily_cash(series, 5))


def test_negative_history_is_allowed_and_not_clipped():
    series = synthetic_cash(end="2023-06-30") - 60.0
    frame = forecast_daily_cash(series, 14)
    assert (frame["forecast"] < 0).any()
    assert (frame["lo_95"] <= frame["lo_80"]).all() and (frame["lo_80"] <= frame["forecast"]).all()


@pytest.mark.parametrize(("series", "horizon", "message"), [
    (pd.Series([], dtype=float), 5, "empty"),
    (pd.Series(range(20), index=pd.date_range("2024-01-01", periods=20, freq="W"), dtype=float), 5, "not daily"),
    (pd.Series(range(12), index=pd.date_range("2024-01-31", periods=12, freq="ME"), dtype=float), 5, "not daily"),
    (pd.Series([1.0, 2.0, 3.0], index=pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-02"])), 5, "duplicate"),
    (pd.Series(["a", "b"], index=pd.to_datetime(["2024-01-01", "2024-01-02"])), 5, "numbers"),
    (pd.Series([1.0, 2.0], index=["x", "y"]), 5, "dates"),
    (pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01 10:00", "2024-01-02 11:00"])), 5, "times of day"),
    (pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-02"])), 0, "horizon_days"),
    (pd.Series([1.0, 2.0], index=pd.to_datetime(["2024-01-01", "2024-01-02"])), 2.5, "horizon_days"),
])
def test_clear_errors(series, horizon, message):
    with pytest.raises(ValueError, match=message):
        forecast_daily_cash(series, horizon)


def test_not_a_series_and_bad_levels():
    with pytest.raises(ValueError, match="pandas Series"):
        forecast_daily_cash([1.0, 2.0], 3)
    with pytest.raises(ValueError, match="levels"):
        forecast_daily_cash(synthetic_cash(end="2023-02-28"), 3, levels=(80, 120))


def test_determinism():
    series = synthetic_cash()
    pd.testing.assert_frame_equal(forecast_daily_cash(series, 30), forecast_daily_cash(series, 30))


# ----------------------------------------------------------------------------------------------- backtest
class Spy(Forecaster):
    """Records the last training day it was fitted on; forecasts the training mean."""

    seen: list = []

    def fit(self, y):
        super().fit(y)
        Spy.seen.append(y.index.max())
        return self

    def predict(self, h):
        dates = pd.date_range(self.y_.index[-1] + pd.Timedelta(days=1), periods=h)
        m = float(self.y_.mean())
        return pd.DataFrame({"date": dates, "forecast": m, "sd": 1.0, "lo_80": m - 1, "hi_80": m + 1,
                             "lo_95": m - 2, "hi_95": m + 2})


def test_backtest_origins_never_see_the_future():
    series = synthetic_cash()
    Spy.seen = []
    cv = cross_validation(series, {"spy": Spy, "seasonal_naive": SeasonalNaive}, h=30, n_windows=5, step_size=7)
    assert cv["cutoff"].nunique() == 5
    assert sorted(Spy.seen) == sorted(cv["cutoff"].unique())
    first_target = cv.groupby("cutoff")["date"].min()
    for cutoff, first in first_target.items():
        assert cv.loc[cv["cutoff"] == cutoff, "train_end"].max() < first
        assert first == cutoff + pd.Timedelta(days=1)
    assert (cv["train_end"] < cv["date"]).all()
    assert cv["date"].max() == series.index.max()
    assert cutoffs(series.index.max(), 30, 5, 7) == sorted(cv["cutoff"].unique())


def test_accuracy_metrics():
    series = synthetic_cash()
    cv = cross_validation(series, {"seasonal_naive": SeasonalNaive}, h=14, n_windows=3, step_size=7)
    table = accuracy(cv, series)
    row = table.iloc[0]
    errors = (cv["forecast"] - cv["actual"]).abs()
    assert row["wape"] == pytest.approx(errors.sum() / cv["actual"].sum())
    assert row["bias"] == pytest.approx((cv["forecast"] - cv["actual"]).sum() / cv["actual"].sum())
    assert 0 <= row["coverage_80"] <= row["coverage_95"] <= 1
    assert row["mase"] > 0 and row["windows"] == 3 and row["days"] == 42


# ----------------------------------------------------------------------------------------------- bottom-up
def tiny_book() -> Book:
    """Twelve monthly net-30 invoices per account for 20 accounts, each paid 0-9 days after due."""
    rng = np.random.default_rng(5)
    invoices, cash = [], []
    for a in range(20):
        for m in range(12):
            issued = pd.Timestamp("2024-01-01") + pd.DateOffset(months=m) + pd.Timedelta(days=a % 28)
            due = issued + pd.Timedelta(days=30)
            invoice_id = f"INV-{a:02d}-{m:02d}"
            paid = due + pd.Timedelta(days=int(rng.integers(0, 10)))
            settled = paid if paid <= pd.Timestamp("2024-12-31") else pd.NaT
            invoices.append({"invoice_id": invoice_id, "account_id": f"ACC-{a:02d}",
                             "segment": "smb" if a % 2 else "enterprise", "billing_method": "wire",
                             "invoice_date": issued, "due_date": due, "amount": 1000.0 + a, "write_off_amount": 0.0,
                             "invoice_status": "paid" if pd.notna(settled) else "open", "settled_date": settled,
                             "is_annual": False})
            if pd.notna(settled):
                cash.append({"invoice_id": invoice_id, "date": paid, "amount": 1000.0 + a, "payment_method": "wire"})
    return Book(pd.DataFrame(invoices), pd.DataFrame(cash), pd.Timestamp("2024-12-31"))


def test_bottom_up_is_point_in_time():
    book = tiny_book()
    origin = pd.Timestamp("2024-08-15")
    before = BottomUpEngine(book).expected_cash(origin, 30)
    later = book.cash["date"] > origin
    changed = Book(book.invoices.copy(), book.cash.copy(), book.as_of)
    changed.cash.loc[later, "date"] = changed.cash.loc[later, "date"] + pd.Timedelta(days=3)
    changed.cash.loc[later, "amount"] *= 0.5
    after = BottomUpEngine(changed).expected_cash(origin, 30)
    pd.testing.assert_frame_equal(before, after)
    assert before["date"].min() > origin and before["date"].max() <= origin + pd.Timedelta(days=30)
    assert before["amount"].sum() > 0
    closed = pd.DatetimeIndex(before.loc[before["amount"] > 0, "date"]).dayofweek >= 5
    assert not closed.any()  # wire receipts land on business days


def test_bottom_up_expects_the_open_items():
    book = tiny_book()
    engine = BottomUpEngine(book)
    origin = pd.Timestamp("2024-08-15")
    items = engine.open_items(origin)
    expected = engine.expected_cash(origin, 60)
    # Items open at the origin plus about two months of new billing, all paid within ~40 days of issue.
    assert expected.loc[expected["source"] == "open_items", "amount"].sum() == pytest.approx(
        items["balance"].sum(), rel=0.1)
    assert expected.loc[expected["source"] == "new_billing", "amount"].sum() > 0


def ap_run_book() -> Book:
    """tiny_book's accounts, of which the first ten pay every invoice on the next accounts-payable run (the
    15th-or-next or the last business day) after the day they meant to pay."""
    book = tiny_book()
    engine = BottomUpEngine(book)
    runs = np.flatnonzero(engine.is_ap_day) + engine.cal_lo
    cash = book.cash.copy()
    account = cash["invoice_id"].str[4:6].astype(int)
    meant = cash["date"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    landed = runs[np.searchsorted(runs, meant)]
    on_runs = (account < 10).to_numpy()
    cash.loc[on_runs, "date"] = pd.to_datetime(landed[on_runs].astype("datetime64[D]"))
    invoices = book.invoices.set_index("invoice_id")
    invoices.loc[cash["invoice_id"], "settled_date"] = cash.set_index("invoice_id")["date"]
    invoices.loc[invoices["settled_date"] > book.as_of, ["settled_date", "invoice_status"]] = [pd.NaT, "open"]
    return Book(invoices.reset_index(), cash[cash["date"] <= book.as_of].reset_index(drop=True), book.as_of)


def test_ap_run_payers_are_found_and_their_cash_lands_on_runs():
    book = ap_run_book()
    engine = BottomUpEngine(book)
    origin = pd.Timestamp("2024-08-19")  # a Monday between runs
    payers = engine.ap_payers(origin)
    assert list(engine.accounts[payers]) == [f"ACC-{a:02d}" for a in range(10)]
    items = engine.open_items(origin)
    on_runs = items["invoice_id"].str[4:6].astype(int) < 10
    cash = engine.item_cash(origin, 30, items.reset_index(drop=True))
    days = _day(origin) + 1 + np.arange(30)
    landing = engine.is_ap_day[days - engine.cal_lo]
    assert cash[on_runs.to_numpy()][:, ~landing].sum() == 0  # only on runs
    assert cash[on_runs.to_numpy()][:, landing].sum() > 0
    other = cash[~on_runs.to_numpy()]
    assert other[:, ~engine.is_bday[days - engine.cal_lo]].sum() == 0 and other[:, ~landing].sum() > 0
    # An item the payer meant to pay since the last run (before the origin) is still expected: its start lies
    # before the origin, and its money lands on the next run.
    assert (items.loc[on_runs, "start"] + items.loc[on_runs, "due_day"] <= _day(origin)).all()


def test_a_receipt_is_spread_over_the_days_it_may_have_been_meant_for():
    book = tiny_book()
    engine = BottomUpEngine(book)
    rows = np.arange(len(engine.cash_day))
    censor = np.full(len(engine.inv), 10_000)  # nothing censored
    due = engine.due_day[engine.cash_row]
    for landing in (BUSINESS, AP_RUNS):
        first, last = engine.meant_range(rows, np.full(len(rows), landing), censor)
        first, last = due + first, due + last  # day numbers
        assert (last == engine.cash_day).all() and (first <= last).all()
        # Meant for any day after the previous landing day (or from the issue day) up to the day it landed.
        for f, d, issued in zip(first, last, engine.invoice_day[engine.cash_row], strict=True):
            assert not engine.landing_days[landing, f - engine.cal_lo:d - engine.cal_lo].any()
            assert f == issued or engine.landing_days[landing, f - 1 - engine.cal_lo]
    # A Monday receipt after a weekend was meant for Saturday, Sunday or Monday.
    monday = np.flatnonzero(pd.to_datetime(engine.cash_day.astype("datetime64[D]")).dayofweek == 0)[:1]
    first, last = engine.meant_range(monday, np.array([BUSINESS]), censor)
    assert last[0] - first[0] == 2


def test_spread_receipts_count_as_one_piece_a_day():
    """The hazards' box arithmetic equals cutting every spread receipt into explicit one-day pieces."""
    engine = BottomUpEngine(ap_run_book())
    origin = pd.Timestamp("2024-09-20")
    pg = engine.profile_groups(origin)
    events = engine._risk_events(origin, pg)
    width = (events["cash_last"] - events["cash_first"] + 1).astype(int)
    assert width.max() > 3  # AP-run payers' receipts spread over up to half a month
    pieces = dict(events)
    pieces["cash_row"] = np.repeat(events["cash_row"], width)
    pieces["cash_first"] = pieces["cash_last"] = np.concatenate(
        [np.arange(f, last + 1) for f, last in zip(events["cash_first"], events["cash_last"], strict=True)])
    pieces["cash_a"] = np.repeat(events["cash_a"] / width, width)
    for got, want in zip(engine._at_risk(events, pg, pg.max() + 1), engine._at_risk(pieces, pg, pg.max() + 1),
                         strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_bands_widen_where_a_day_hangs_on_a_few_large_invoices():
    rng = np.random.default_rng(3)
    dates = [pd.date_range("2024-03-01", periods=30) + pd.Timedelta(days=7 * k) for k in range(6)]
    forecasts = [np.full(30, 1000.0) for _ in dates]
    variances = [rng.uniform(0, 4e5, 30) for _ in dates]
    actuals = [f + rng.normal(0, np.sqrt(v + 1e5)) for f, v in zip(forecasts, variances, strict=True)]
    errors = ScaledErrors(forecasts, actuals, variances, dates, "US")
    day = pd.DatetimeIndex(["2024-06-04", "2024-06-04"])  # the same business day twice
    band = errors.band(np.array([1000.0, 1000.0]), np.array([0.0, 4e6]), day_classes(day), (80, 95), True)
    width = band["hi_80"] - band["lo_80"]
    assert width[1] > 3 * width[0]  # the day whose cash hangs on large invoices is far less certain
    assert (band["lo_95"] <= band["lo_80"]).all() and (band["lo_80"] <= 1000).all() and (band["lo_95"] >= 0).all()
    assert (band["hi_80"] >= 1000).all() and (band["hi_95"] >= band["hi_80"]).all() and band["sd"][1] > band["sd"][0]


def test_bands_are_taken_wider_when_later_windows_erred_more_than_earlier_ones():
    """The quantile level is calibrated on the inner windows themselves: learned from earlier windows only, did
    the band cover its share of the later ones? Drifting errors ask for a wider level; steady ones do not."""
    rng = np.random.default_rng(8)
    dates = [pd.date_range("2024-01-01", periods=30) + pd.Timedelta(days=7 * k) for k in range(16)]
    forecasts = [np.full(30, 1000.0) for _ in dates]
    variances = [np.full(30, 1e4) for _ in dates]

    def errors(spread) -> ScaledErrors:
        actuals = [1000 + rng.normal(0, spread(k), 30) for k in range(16)]
        return ScaledErrors(forecasts, actuals, variances, dates, "US", (80, 95))

    drifting = errors(lambda k: 100 * (1 + 0.15 * k))
    steady = errors(lambda k: 100.0)
    assert drifting.calibrated_level(80) > 86 and drifting.calibrated_level(95) > 96
    assert steady.calibrated_level(80) <= 84
    assert drifting.quantiles[80][1][1] > steady.quantiles[80][1][1]  # a wider business-day band


# ----------------------------------------------------------------------------------------------- build step
def tiny_warehouse(book: Book):
    """The marts the forecasting step reads, filled from a tiny book (in-memory DuckDB)."""
    import duckdb

    con = duckdb.connect()
    inv = book.invoices.assign(is_void=False, book_rate=1.0)
    inv = inv.assign(open_amount_reporting=np.where(inv["invoice_status"] == "open", inv["amount"], 0.0))
    cash = book.cash.reset_index(drop=True)
    cash = cash.assign(payment_id=[f"PAY-{i:05d}" for i in range(len(cash))],
                       application_id=[f"APP-{i:05d}" for i in range(len(cash))])
    cash["segment"] = cash["invoice_id"].map(inv.set_index("invoice_id")["segment"])
    con.register("inv", inv)
    con.register("cash", cash)
    con.execute("create schema marts; create schema staging")
    con.execute("""create table marts.fct_invoices as select invoice_id, account_id, segment, billing_method,
        cast(invoice_date as date) as invoice_date, cast(due_date as date) as due_date, book_rate,
        amount as invoice_amount_reporting, write_off_amount, invoice_status, cast(settled_date as date)
        as settled_date, is_void, open_amount_reporting from inv""")
    con.execute("""create table staging.stg_raw__invoices as select invoice_id, cast(invoice_date as date) as
        billing_period_start, cast(invoice_date as date) + 29 as billing_period_end from inv""")
    con.execute("""create table marts.fct_payments as select payment_id, segment, payment_method,
        amount as payment_amount, amount as payment_amount_reporting, cast(date as date) as effective_date
        from cash""")
    con.execute("""create table marts.fct_payment_applications as select application_id, payment_id, invoice_id,
        amount as applied_amount, cast(date as date) as effective_date from cash""")
    con.execute("""create table marts.fct_failed_payment_episodes as select invoice_id, 'in_progress' as
        episode_status, 1.0 as open_amount from inv where invoice_status = 'open' limit 3""")
    return con


def test_build_step_writes_tables_and_is_deterministic(monkeypatch):
    from models_ml.forecasting import ensemble, pipeline

    monkeypatch.setattr(ensemble, "CALIBRATION_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "N_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "CHILD_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "METHODS", ())
    monkeypatch.setattr(pipeline, "SEGMENTS", ("enterprise", "smb"))
    tables = ["cash_forecast", "cash_forecast_weekly", "forecast_backtest", "forecast_accuracy", "ar_projection",
              "backlog_recovery"]
    contents = []
    for _ in range(2):
        con = tiny_warehouse(tiny_book())
        run = pipeline.run_cash_forecasts(con, "2024-12-31")
        contents.append({t: con.execute(f"select * from models.{t}").df() for t in tables})
    for t in tables:
        pd.testing.assert_frame_equal(contents[0][t], contents[1][t])
    daily = contents[0]["cash_forecast"]
    assert set(daily["model"]) == {*pipeline.MODELS, "reconciled"}
    assert (pd.to_datetime(daily["target_date"]) > pd.to_datetime(daily["forecast_date"])).all()
    assert (daily["lo_95"] <= daily["lo_80"]).all() and (daily["hi_80"] <= daily["hi_95"]).all()
    assert daily.loc[daily["business_day"].notna(), "business_day"].max() >= 30
    rec = daily[daily["model"] == "reconciled"].pivot_table(index="target_date", columns="series_id",
                                                            values="forecast")
    assert np.allclose(rec["segment:enterprise"] + rec["segment:smb"], rec["total"], atol=0.05)
    backtest = contents[0]["forecast_backtest"]
    assert (pd.to_datetime(backtest["train_end"]) < pd.to_datetime(backtest["target_date"])).all()
    assert set(run.ar_projection["target"]) == {"month_end", "quarter_end"}
    assert len(contents[0]["cash_forecast_weekly"].query("series_id == 'total'")) == pipeline.WEEKS


def test_every_forecast_made_is_kept_from_build_to_build(monkeypatch, tmp_path):
    """Each build's warehouse carries the previous one's forecast log: forecasts made on other dates are kept, a
    rebuild of the same date replaces that date's, and an unreadable previous warehouse starts a new log (noted)."""
    from models_ml.forecasting import ensemble, pipeline

    monkeypatch.setattr(ensemble, "CALIBRATION_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "N_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "CHILD_WINDOWS", 2)
    monkeypatch.setattr(pipeline, "METHODS", ())
    monkeypatch.setattr(pipeline, "SEGMENTS", ("enterprise", "smb"))
    live = tmp_path / "warehouse.duckdb"

    def build(as_of: str, previous) -> tuple[pd.DataFrame, list[str]]:
        con, notes = tiny_warehouse(tiny_book()), []
        pipeline.run_cash_forecasts(con, as_of, previous, notes)
        logged = con.execute("select * from models.forecast_log").df()
        if live.exists():
            live.unlink()
        con.execute(f"attach '{live}' as out")  # what the swap would publish
        con.execute("create schema out.models; create table out.models.forecast_log as "
                    "select * from models.forecast_log")
        con.close()
        return logged, notes

    first, notes = build("2024-11-29", previous=None)
    assert not notes and set(first["forecast_date"].dt.date.astype(str)) == {"2024-11-29"}
    second, _ = build("2024-12-31", previous=live)
    assert set(second["forecast_date"].dt.date.astype(str)) == {"2024-11-29", "2024-12-31"}
    kept = second[second["forecast_date"] == "2024-11-29"].reset_index(drop=True)
    pd.testing.assert_frame_equal(kept, first, check_dtype=False)  # carried over unchanged
    again, _ = build("2024-12-31", previous=live)
    pd.testing.assert_frame_equal(again, second)  # the same day rebuilt: replaced, not doubled
    assert not again.duplicated(["forecast_date", "series_id", "model", "target_date"]).any()
    assert (again["target_date"] > again["forecast_date"]).all()
    live.write_text("not a warehouse")
    fresh, notes = build("2024-12-31", previous=live)
    assert set(fresh["forecast_date"].dt.date.astype(str)) == {"2024-12-31"}
    assert len(notes) == 1 and "not carried over" in notes[0]


def test_precomputed_origins_are_every_origin_the_step_asks_for(monkeypatch):
    """The build computes the bottom-up origins up front on threads: each later request must be a cache hit, and
    the threaded results must equal the one-at-a-time ones."""
    from models_ml.forecasting import pipeline
    from models_ml.forecasting.bottom_up import BottomUpEngine

    asked, computed = [], []
    original = BottomUpEngine.expected_cash

    def spy(self, origin, h, risk=None):
        key = (origin, h, None if risk is None else id(risk))
        asked.append(key)
        if key not in self._cache:
            computed.append(key)
        return original(self, origin, h, risk)

    monkeypatch.setattr(BottomUpEngine, "expected_cash", spy)
    run = pipeline.run_cash_forecasts(tiny_warehouse(tiny_book()), "2024-12-31")
    keys = pipeline.bottom_up_keys(run.history["total"], None)
    assert len(computed) == len(set(computed)) == len(keys)  # each key once, all of them in the precompute
    assert set(asked) == set(computed)  # nothing asked for later was missing from it
    serial, threaded = BottomUpEngine(tiny_book()), BottomUpEngine(tiny_book())
    threaded.precompute(keys, workers=2)
    for key in keys:
        pd.testing.assert_frame_equal(original(serial, *key), threaded._cache[(key[0], key[1], None)])
