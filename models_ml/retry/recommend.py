"""Next-retry recommendations for failed card and ACH payments still in their recovery window.

Never for hard declines; always inside the network rules: Visa at most 15 reattempts in 30 days (and none after
a category-1 decline), Mastercard advice codes (03/21 never, 24-30 minimum waits), NACHA at most two
re-presentments of R01/R09 within 180 days and none after other returns. Among the allowed hourly slots of the
next 7 days, the one with the highest learned success chance wins (the earliest on ties).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models_ml.io import read_frame, write_table
from models_ml.retry.curves import RecoveryCurves, calendar_features, reattempt_history

SEARCH_DAYS = 7
VISA_MAX_REATTEMPTS_30D = 15
NACHA_MAX_REPRESENTMENTS = 2


def open_failures(con) -> pd.DataFrame:
    """In-progress episodes with what the rules need: last attempt, reattempts so far, advice and return codes."""
    return read_frame(con, """
        with last_attempt as (
            select invoice_id,
                   max(attempted_at) as last_attempt_at,
                   arg_max(advice_code, (attempted_at, attempt_id)) as last_advice_code,
                   arg_max(return_code, (attempted_at, attempt_id)) as last_return_code,
                   count(*) filter (where is_reattempt) as reattempts,
                   count(*) filter (where attempt_method = 'ach_debit' and is_reattempt) as represents,
                   bool_or(visa_category = '1' and is_failed) as had_visa_category_1
            from marts.fct_payment_attempts
            where not is_customer_initiated
            group by invoice_id
        )
        select e.invoice_id, e.account_id, e.first_failed_at, e.decline_family, e.attempt_method, e.card_brand,
               e.is_hard_decline, e.resolution_path, e.failed_amount_reporting, e.return_code,
               l.last_attempt_at, l.last_advice_code, l.last_return_code, l.reattempts, l.represents,
               l.had_visa_category_1, m.min_wait_hours, m.is_never_retry, ach.is_reinitiation_allowed
        from marts.fct_failed_payment_episodes as e
        inner join last_attempt as l on l.invoice_id = e.invoice_id
        left join reference.ref_merchant_advice_codes as m on m.advice_code = l.last_advice_code
        left join reference.ref_ach_return_codes as ach on ach.return_code = l.last_return_code
        where e.episode_status = 'in_progress'
        order by e.invoice_id
    """)


def rule_check(row) -> tuple[bool, str, float]:
    """(allowed, note, minimum hours after the last attempt) for one failure under the network rules."""
    if row.attempt_method == "ach_debit":
        if row.last_return_code not in ("R01", "R09"):
            return False, f"do not re-present: return {row.last_return_code} is final; get new bank details", 0
        if row.represents >= NACHA_MAX_REPRESENTMENTS:
            return False, "do not re-present: NACHA allows two re-presentments in 180 days", 0
        return True, f"NACHA re-presentment {int(row.represents) + 1} of {NACHA_MAX_REPRESENTMENTS}", 24
    if row.is_hard_decline is True:
        return False, f"do not retry: hard decline ({str(row.resolution_path).replace('_', ' ')})", 0
    if row.card_brand == "visa" and row.had_visa_category_1 is True:
        return False, "do not retry: Visa category-1 decline", 0
    if row.card_brand == "mastercard" and row.is_never_retry is True:
        return False, f"do not retry: Mastercard advice code {row.last_advice_code}", 0
    if row.card_brand == "visa" and row.reattempts >= VISA_MAX_REATTEMPTS_30D:
        return False, "do not retry: Visa 15 reattempts in 30 days used", 0
    wait = float(row.min_wait_hours) if pd.notna(row.min_wait_hours) and row.min_wait_hours else 1.0
    note = f"{int(row.reattempts)} of {VISA_MAX_REATTEMPTS_30D} Visa reattempts used" if row.card_brand == "visa" \
        else "within network rules"
    return True, note, wait


def recommend_retries(con, as_of: str, curves: RecoveryCurves | None = None) -> pd.DataFrame:
    """One row per in-progress failed payment: the recommended next retry time (UTC) or why not to retry."""
    failures = open_failures(con)
    columns = ["as_of_date", "invoice_id", "account_id", "decline_family", "attempt_method", "card_brand",
               "recommended_at", "expected_success_probability", "do_not_retry", "rule_note"]
    if failures.empty:
        frame = pd.DataFrame(columns=columns)
        write_table(con, "models", "retry_recommendations", frame)
        return frame
    curves = curves or RecoveryCurves().fit(reattempt_history(con))
    start = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    slots = pd.date_range(start, start + pd.Timedelta(days=SEARCH_DAYS), freq="h", inclusive="left")
    # Every failure's allowed slots are positions on this one grid: its calendar is computed once and the
    # candidates of all failures are scored in one batch (a frame per failure took minutes at 1M accounts).
    slot_calendar = calendar_features(pd.Series(slots))
    ach_window = (slots.weekday < 5) & (slots.hour == 14)  # one ACH window a day
    checks = [rule_check(row) for row in failures.itertuples(index=False)]
    row_ids, positions = [], []
    for i, (row, (allowed, _note, wait)) in enumerate(zip(failures.itertuples(index=False), checks, strict=True)):
        if not allowed:
            continue
        first = slots.searchsorted(pd.Timestamp(row.last_attempt_at) + pd.Timedelta(hours=wait))
        pos = np.arange(first, len(slots))
        if row.attempt_method == "ach_debit":
            pos = pos[ach_window[pos]]
        row_ids.append(np.full(len(pos), i))
        positions.append(pos)
    row_id = np.concatenate(row_ids) if row_ids else np.zeros(0, dtype=int)
    pos = np.concatenate(positions) if positions else np.zeros(0, dtype=int)
    best = {}
    if len(pos):
        at = slots[pos]
        first_failed = pd.to_datetime(failures["first_failed_at"]).to_numpy()[row_id]
        scored = pd.DataFrame({
            "decline_family": failures["decline_family"].to_numpy()[row_id],
            "attempt_method": failures["attempt_method"].to_numpy()[row_id],
            "attempted_at": at,
            "hours_since_failure": (at.to_numpy() - first_failed) / np.timedelta64(1, "s") / 3600,
            "retry_number": failures["reattempts"].to_numpy()[row_id].astype(float) + 1,
            "row_id": row_id,
        }).join(slot_calendar.iloc[pos].reset_index(drop=True))
        scored["p"] = np.round(curves.predict(scored), 4)
        top = scored.sort_values(["row_id", "p", "attempted_at"], ascending=[True, False, True]).groupby(
            "row_id").head(1)
        best = {r.row_id: (r.attempted_at, float(r.p)) for r in top.itertuples(index=False)}
    rows = []
    for i, (row, (allowed, note, _wait)) in enumerate(zip(failures.itertuples(index=False), checks, strict=True)):
        if allowed and i not in best:
            allowed, note = False, f"no allowed slot in the next {SEARCH_DAYS} days ({note})"
        at, p = best.get(i, (pd.NaT, np.nan))
        rows.append({"as_of_date": pd.Timestamp(as_of).date(), "invoice_id": row.invoice_id,
                     "account_id": row.account_id, "decline_family": row.decline_family,
                     "attempt_method": row.attempt_method, "card_brand": row.card_brand,
                     "recommended_at": at if allowed else pd.NaT, "expected_success_probability": p if allowed
                     else np.nan, "do_not_retry": not allowed, "rule_note": note})
    frame = pd.DataFrame(rows, columns=columns)
    write_table(con, "models", "retry_recommendations", frame)
    return frame
