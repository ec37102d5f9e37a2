"""Top reasons behind each score, in plain words a collector can read out.

For every feature group, the score (of one cross-fitted member, before calibration) is recomputed with the group
set to a benign reference (its typical value on items that were recovered); the groups that raise the score most
are the reasons, worded from the item's own values ("card expired 12 days ago", "3 failed payments in 90 days").
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def _n(count, singular: str, plural: str | None = None) -> str:
    count = int(count)
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


# group -> (features replaced together, wording from the row; "" when the row's values are an absence, such as no
# broken promise, which is no reason to read out even when the score moved with it)
REASON_GROUPS = {
    "days_past_due": (["days_past_due", "account_max_days_past_due"], lambda r: (
        f"{int(r.days_past_due)} days past due" if r.days_past_due > 0 else
        f"due in {-int(r.days_past_due)} days" if r.days_past_due < 0 else "due today")),
    "decline": (["decline_family", "is_hard_decline", "attempt_method"], lambda r: (
        f"last payment declined: {str(r.decline_family).replace('_', ' ')}"
        + (" (hard decline)" if r.is_hard_decline else ""))),
    "failure_age": (["days_since_first_failure", "failed_attempts_on_item"], lambda r: (
        f"payment failing for {_n(r.days_since_first_failure, 'day')}, {_n(r.failed_attempts_on_item, 'attempt')}"
        if pd.notna(r.days_since_first_failure) else "")),
    "card_expiry": (["card_expired_days", "days_to_card_expiry"], lambda r: (
        f"card expired {int(r.card_expired_days)} days ago" if r.card_expired_days > 0 else
        f"card expires in {int(r.days_to_card_expiry)} days" if pd.notna(r.days_to_card_expiry) else
        "no card on file")),
    "failure_history": (["failures_90d", "failed_episodes_365d", "unrecovered_episodes_365d"], lambda r: (
        f"{_n(r.failures_90d, 'failed payment')} in 90 days, {int(r.unrecovered_episodes_365d)} never recovered "
        "in the past year" if r.failures_90d > 0 or r.unrecovered_episodes_365d > 0 else "")),
    "lateness": (["late_paid_share_365d", "avg_days_late_365d"], lambda r: (
        f"paid {r.late_paid_share_365d:.0%} of invoices late in the past year (avg {r.avg_days_late_365d:.0f} "
        "days)" if pd.notna(r.late_paid_share_365d) else "no payment history in the past year")),
    "promises": (["broken_promises_180d", "kept_promises_180d", "has_open_promise"], lambda r: (
        f"{_n(r.broken_promises_180d, 'broken promise')} to pay in 180 days" if r.broken_promises_180d > 0 else
        "promise to pay outstanding" if r.has_open_promise else "")),
    "contact": (["touches_30d", "responses_30d", "bounces_30d", "days_since_last_response"], lambda r: (
        f"{_n(r.touches_30d, 'touch', 'touches')} in 30 days, {_n(r.responses_30d, 'response')}"
        + (f", {int(r.bounces_30d)} bounced" if r.bounces_30d > 0 else "") if r.touches_30d > 0 else
        "not contacted in 30 days")),
    "disputes_writeoffs": (["disputes_365d", "write_offs_365d"], lambda r: (
        f"{_n(r.disputes_365d, 'dispute')} and {_n(r.write_offs_365d, 'write-off')} in the past year"
        if r.disputes_365d > 0 or r.write_offs_365d > 0 else "")),
    "exposure": (["log_exposure", "account_open_items", "account_overdue_share"], lambda r: (
        f"{_n(r.account_open_items, 'open item')}, {r.account_overdue_share:.0%} of the balance overdue"
        if pd.notna(r.account_overdue_share) else _n(r.account_open_items, "open item"))),
    "tenure": (["tenure_days", "segment"], lambda r: (
        f"{str(r.segment).replace('_', '-')} customer for {int(r.tenure_days) // 30} months")),
}


def explain(model, frame: pd.DataFrame, top: int = 3) -> pd.DataFrame:
    """Frame with reason_1..reason_top (plain words) for every row of `frame` (same index)."""
    # Any model with predict_proba will do; a RiskModel offers a smooth score at a fifth of the cost.
    score = getattr(model, "predict_proba_uncalibrated", model.predict_proba)
    base = score(frame)
    lifts = {}
    for name, (features, _) in REASON_GROUPS.items():
        # Only rows whose group differs from the reference can move: the rest keep their score (lift 0), and
        # skipping them saves most of the re-scoring (most items have no promise, dispute or failure history).
        differs = np.zeros(len(frame), dtype=bool)
        for feature in features:
            differs |= ~_equals(frame[feature], model.reference_.get(feature))
        lift = np.zeros(len(frame))
        if differs.any():
            changed = frame[differs].copy()
            for feature in features:
                changed[feature] = model.reference_.get(feature)
            lift[differs] = base[differs] - score(changed)
        lifts[name] = lift
    lift = pd.DataFrame(lifts, index=frame.index)
    order = np.argsort(-lift.to_numpy(), axis=1)
    names = np.array(list(REASON_GROUPS))
    out = {f"reason_{k + 1}": [] for k in range(top)}
    rows = frame.itertuples(index=False)
    for row, picks, values in zip(rows, order, lift.to_numpy(), strict=True):
        texts = []
        for pick in picks:  # largest lift first; the first `top` that raise the score and can be worded
            if values[pick] <= 0.005 or len(texts) == top:
                break
            text = REASON_GROUPS[names[pick]][1](row)
            if text:
                texts.append(text)
        for k in range(top):
            out[f"reason_{k + 1}"].append(texts[k] if k < len(texts) else "")
    return pd.DataFrame(out, index=frame.index)


def _equals(values: pd.Series, reference) -> np.ndarray:
    """values == reference, element-wise, with missing equal to missing."""
    if reference is None or (not isinstance(reference, str) and pd.isna(reference)):
        return values.isna().to_numpy()
    return (values == reference).fillna(False).to_numpy(dtype=bool)
