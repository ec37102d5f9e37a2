"""Worklist logic (cadence, SLA clocks, priority), retry recommendations within network rules, export safety,
and the retry-policy simulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models_ml.io import connect, read_frame
from models_ml.retry.recommend import rule_check
from models_ml.retry.simulator import compare_policies
from models_ml.worklist.build import balance_collectors, build_worklist, load_cadence, next_actions
from models_ml.worklist.exports import neutralise, safe_frame, salesforce_cases, write_sheet
from models_ml.worklist.sla import add_business_hours, business_days_between, business_hours_between


# ------------------------------------------------------------------------------------------- SLA clocks
def test_reply_on_friday_afternoon_is_due_monday_morning():
    friday = pd.Timestamp("2026-10-16 16:00")  # a Friday
    assert add_business_hours(friday, 3) == pd.Timestamp("2026-10-19 11:00")


def test_business_hours_skip_weekends_holidays_and_nights():
    assert business_hours_between(pd.Timestamp("2026-10-16 16:00"), pd.Timestamp("2026-10-19 11:00")) == 3
    # Thanksgiving (Thursday 26 November 2026) does not count
    assert add_business_hours(pd.Timestamp("2026-11-25 15:00"), 3) == pd.Timestamp("2026-11-27 10:00")
    assert business_hours_between(pd.Timestamp("2026-10-17 10:00"), pd.Timestamp("2026-10-18 18:00")) == 0
    assert business_days_between(pd.Timestamp("2026-10-16"), pd.Timestamp("2026-10-19")) == 1


# ------------------------------------------------------------------------------------------- cadence
def item(**overrides) -> dict:
    base = {"invoice_id": "INV-1", "account_id": "A1", "segment": "smb", "item_type": "failed_payment",
            "first_failed_date": pd.Timestamp("2026-10-01"), "due_date": pd.Timestamp("2026-10-01"),
            "decline_template": "tpl_card_update_request", "resolution_path": "update_payment_method"}
    return {**base, **overrides}


def touches(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["invoice_id", "account_id", "channel", "template_id", "touched_local_date"])


def test_first_undone_step_is_due_and_uses_the_decline_template():
    policy = load_cadence()
    actions = next_actions(pd.DataFrame([item()]), touches(), policy, pd.Timestamp("2026-10-02"))
    row = actions.iloc[0]
    assert (row.next_action, row.action_template, row.is_action_due) == (
        "send_failed_payment_email", "tpl_card_update_request", True)


def test_done_steps_are_skipped_and_the_next_one_waits_for_its_day():
    policy = load_cadence()
    done = touches(("INV-1", "A1", "email", "tpl_card_update_request", pd.Timestamp("2026-10-01")))
    early = next_actions(pd.DataFrame([item()]), done, policy, pd.Timestamp("2026-10-02")).iloc[0]
    assert (early.next_action, early.is_action_due) == ("call_customer", False)
    assert str(early.action_due_date) == "2026-10-04"
    later = next_actions(pd.DataFrame([item()]), done, policy, pd.Timestamp("2026-10-05")).iloc[0]
    assert (later.next_action, later.is_action_due) == ("call_customer", True)


def test_enterprise_and_invoices_follow_their_own_cadence():
    policy = load_cadence()
    enterprise = next_actions(pd.DataFrame([item(segment="enterprise")]), touches(), policy,
                              pd.Timestamp("2026-10-01")).iloc[0]
    assert (enterprise.next_action, enterprise.is_action_due) == ("send_failed_payment_email", False)
    invoice = item(item_type="overdue_invoice", first_failed_date=None, due_date=pd.Timestamp("2026-10-01"))
    reminder = next_actions(pd.DataFrame([invoice]), touches(), policy, pd.Timestamp("2026-09-28")).iloc[0]
    assert (reminder.next_action, reminder.action_template) == ("send_payment_reminder", "tpl_invoice_reminder")


def test_hard_decline_that_calls_for_escalation_escalates_at_once():
    policy = load_cadence()
    row = next_actions(pd.DataFrame([item(resolution_path="stop_and_escalate")]), touches(), policy,
                       pd.Timestamp("2026-10-01")).iloc[0]
    assert row.next_action == "escalate_to_lead"


def test_payment_plans_calm_or_escalate_an_account(worklist):
    con, as_of, result = worklist
    # A plan agreed 100 days ago, first instalment 90 days ago, nothing paid towards its 1,000,000.
    con.execute("create table staging.plans_copy as select * from staging.stg_raw__payment_plans")
    con.execute("drop view staging.stg_raw__payment_plans")
    con.execute("alter table staging.plans_copy rename to stg_raw__payment_plans")
    account = result.accounts.iloc[0]["account_id"]
    con.execute(f"""insert into staging.stg_raw__payment_plans values ('PLN-T', '{account}', null,
        timestamp '{as_of} 12:00:00', date '{as_of}' - 100, 1000000, 'USD', 3, date '{as_of}' - 90, 'monthly',
        'active')""")
    rebuilt = build_worklist(con, as_of)
    row = rebuilt.accounts.set_index("account_id").loc[account]
    assert row["has_missed_installment"] and row["next_action"] == "call_customer_missed_installment"


def test_capacity_balancing_spills_over_to_the_least_loaded_collector():
    policy = {"capacity": {"items_per_collector": 2}}
    accounts = pd.DataFrame({"collector": ["Ana", "Ana", "Ana", "Ben"]})
    assert list(balance_collectors(accounts, policy)) == ["Ana", "Ana", "Ben", "Ben"]


# ------------------------------------------------------------------------------------------- on a built book
@pytest.fixture(scope="module")
def worklist(built_warehouse, tmp_path_factory):
    copy = tmp_path_factory.mktemp("worklist") / "w.duckdb"
    shutil.copyfile(built_warehouse, copy)
    con = connect(copy, read_only=False)
    as_of = str(con.execute("select as_of_date from raw._build_info").fetchone()[0])
    result = build_worklist(con, as_of)
    yield con, as_of, result
    con.close()


def test_accounts_are_ranked_by_priority_and_urgency_raises_it(worklist):
    _, _, result = worklist
    accounts = result.accounts
    assert list(accounts["rank"]) == list(range(1, len(accounts) + 1))
    assert accounts["priority_score"].is_monotonic_decreasing
    urgent = accounts[accounts["urgency"] > 0]
    assert (urgent["priority_score"] >= urgent["expected_loss"] - 0.01).all()
    items = result.items
    # Only an on-track payment plan lowers priority (by half at most).
    assert ((items["priority_score"] + 1e-6) >= 0.5 * items["expected_loss"]).all()
    assert accounts["needs_action_today"].all()


def test_every_retry_recommendation_respects_the_network_rules(worklist):
    con, _, _ = worklist
    recs = read_frame(con, "select * from models.retry_recommendations")
    attempts = read_frame(con, """
        select invoice_id, max(attempted_at) as last_at,
               count(*) filter (where is_reattempt and card_brand = 'visa') as visa_reattempts,
               count(*) filter (where is_reattempt and attempt_method = 'ach_debit') as represents,
               bool_or(is_hard_decline) as any_hard, arg_max(return_code, attempted_at) as last_return
        from marts.fct_payment_attempts where not is_customer_initiated group by invoice_id""")
    merged = recs.merge(attempts, on="invoice_id")
    assert len(merged) == len(recs) > 0
    retried = merged[~merged["do_not_retry"]]
    assert (pd.to_datetime(retried["recommended_at"]) > pd.to_datetime(retried["last_at"])).all()
    assert (retried["visa_reattempts"] < 15).all()
    ach = retried[retried["attempt_method"] == "ach_debit"]
    assert ach["last_return"].isin(["R01", "R09"]).all() and (ach["represents"] < 2).all()
    assert retried["expected_success_probability"].between(0, 1).all()


def test_reattempts_at_the_same_instant_are_numbered_by_attempt_id():
    """Ties on the attempt time are broken by id, so the fitted curves (and recommendations) never vary by run."""
    import duckdb

    from models_ml.retry.curves import reattempt_history

    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("""create table marts.fct_payment_attempts as select * from (values
        ('A1', 'INV-1', timestamp '2026-01-01 10:00', true, 'insufficient_funds', 'card', 'failed'),
        ('A3', 'INV-1', timestamp '2026-01-03 10:00', true, 'do_not_honor', 'card', 'failed'),
        ('A2', 'INV-1', timestamp '2026-01-03 10:00', false, 'none', 'card', 'succeeded'))
        as t(attempt_id, invoice_id, attempted_at, is_failed, decline_family, attempt_method, outcome)""")
    con.execute("alter table marts.fct_payment_attempts add column is_customer_initiated boolean default false")
    history = reattempt_history(con)
    assert list(history["retry_number"]) == [1, 2]
    assert list(history["succeeded"]) == [1, 0]  # A2 (succeeded) is numbered before A3 (failed)


def test_retry_recommendations_are_the_same_on_every_run(worklist):
    from models_ml.retry.recommend import recommend_retries

    con, as_of, _ = worklist
    first = recommend_retries(con, as_of)
    pd.testing.assert_frame_equal(first, recommend_retries(con, as_of))


def test_rule_check_refuses_hard_declines_and_exhausted_caps():
    row = pd.Series({"attempt_method": "card", "is_hard_decline": True, "resolution_path": "update_payment_method",
                     "card_brand": "visa", "had_visa_category_1": False, "is_never_retry": None, "reattempts": 0,
                     "min_wait_hours": None, "last_advice_code": None, "last_return_code": None, "represents": 0})
    assert rule_check(row)[0] is False
    soft = pd.Series({**row.to_dict(), "is_hard_decline": False})
    assert rule_check(soft)[0] is True
    assert rule_check(pd.Series({**soft.to_dict(), "reattempts": 15}))[0] is False
    assert rule_check(pd.Series({**soft.to_dict(), "had_visa_category_1": True}))[0] is False
    mastercard = pd.Series({**soft.to_dict(), "card_brand": "mastercard", "is_never_retry": True})
    assert rule_check(mastercard)[0] is False
    ach = pd.Series({**row.to_dict(), "attempt_method": "ach_debit", "last_return_code": "R01", "represents": 2})
    assert rule_check(ach)[0] is False
    assert rule_check(pd.Series({**ach.to_dict(), "represents": 1}))[0] is True
    assert rule_check(pd.Series({**ach.to_dict(), "last_return_code": "R03", "represents": 0}))[0] is False


# ------------------------------------------------------------------------------------------- exports
def test_exports_neutralise_formulas_and_keep_numbers(tmp_path):
    for text in ("=HYPERLINK(\"x\")", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"):
        assert neutralise(text) == "'" + text
    assert neutralise("Acme Ltd") == "Acme Ltd" and neutralise(-5.0) == -5.0
    frame = safe_frame(pd.DataFrame({"name": ["=1+1", "ok\rsplit"], "amount": [-10.5, 3.0]}))
    csv = write_sheet(frame, tmp_path / "out.csv").read_text()
    assert "'=1+1" in csv and "-10.5" in csv
    assert len(pd.read_csv(tmp_path / "out.csv")) == 2  # the carriage return stays inside its quoted cell
    xlsx = pd.read_excel(write_sheet(frame, tmp_path / "out.xlsx"))
    assert xlsx["name"].iloc[0] == "'=1+1" and xlsx["amount"].iloc[0] == -10.5
    with pytest.raises(ValueError):
        write_sheet(frame, tmp_path / "out.txt")


def test_salesforce_cases_use_data_loader_columns(worklist):
    _, as_of, result = worklist
    cases = salesforce_cases(result.cases, as_of)
    assert list(cases.columns) == ["AccountId", "Subject", "Description", "Type", "Priority", "Status", "Origin",
                                   "Reason"]
    assert (cases["Status"] == "New").all() and not cases["Subject"].str.startswith(("=", "+", "-", "@")).any()


# ------------------------------------------------------------------------------------------- simulator
@pytest.mark.slow
def test_policy_simulator_replays_three_policies_within_the_rules(worklist, built_warehouse):
    con, _, _ = worklist
    table, details = compare_policies(con, Path(built_warehouse).parent / "raw" / "truth", limit=300)
    policies = table.set_index("policy")
    assert list(policies.index) == ["fixed_schedule", "recommended", "oracle"]
    assert (policies["violations"] == 0).all()
    assert (policies["retries_scheduled"] <= policies.loc["fixed_schedule", "retries_scheduled"]).all()
    assert policies.loc["oracle", "expected_recovered_amount"] >= policies.loc["fixed_schedule",
                                                                               "expected_recovered_amount"]
    assert details["p_recovered_30d"].between(0, 1).all()


def test_recovery_curves_fit_a_seeded_sample_of_a_long_history():
    """Beyond max_rows the curves learn from a seeded sample: the same on every run, and exactly that sample's fit."""
    from models_ml.retry.curves import RecoveryCurves

    rng = np.random.default_rng(7)
    n = 2_000
    history = pd.DataFrame({
        "decline_family": rng.choice(["insufficient_funds", "do_not_honor"], n),
        "hours_since_failure": rng.uniform(1, 400, n), "retry_number": rng.integers(1, 5, n),
        **{flag: rng.integers(0, 2, n).astype(float)
           for flag in ("is_workday_hours", "is_before_workday", "is_weekday", "is_payday")},
        "succeeded": rng.integers(0, 2, n)})
    capped = RecoveryCurves(max_rows=500).fit(history)
    again = RecoveryCurves(max_rows=500).fit(history)
    sample = RecoveryCurves(max_rows=n).fit(history.sample(500, random_state=0).sort_index())
    full = RecoveryCurves(max_rows=n).fit(history)
    np.testing.assert_array_equal(capped.model_.coef_, again.model_.coef_)
    np.testing.assert_allclose(capped.model_.coef_, sample.model_.coef_)
    assert not np.allclose(capped.model_.coef_, full.model_.coef_)
