"""The simulator's true behavioural model: the chances behind every simulated outcome.

Importable on purpose: the truth/ files record the probabilities this module produced, and a retry-policy
simulator can replay any policy against these functions (not against learned curves). The pipeline itself never
imports this module: it only sees the extracts.

Every function is vectorised over numpy arrays; `health` is the account's latent financial health (about
N(0, 1); higher is healthier) in the month of the event.
"""

from __future__ import annotations

import numpy as np

from pipelines.generator import calendar as cal

# Card decline families the simulator produces (the warehouse learns them from real codes).
FAILURE_FAMILIES = (
    "insufficient_funds",
    "do_not_honor",
    "expired_card",
    "invalid_card_data",
    "issuer_unavailable",
    "avs_cvv_mismatch",
    "lost_stolen_fraud",
    "authentication_required",
    "restricted",
)
HARD_FAMILIES = (
    "expired_card", "invalid_card_data", "lost_stolen_fraud", "authentication_required", "avs_cvv_mismatch",
)

# Share of non-expiry failures by family at average health; insufficient funds grows as health falls.
FAMILY_MIX = {
    "insufficient_funds": 0.47,
    "do_not_honor": 0.27,
    "invalid_card_data": 0.05,
    "issuer_unavailable": 0.06,
    "avs_cvv_mismatch": 0.04,
    "lost_stolen_fraud": 0.03,
    "authentication_required": 0.03,
    "restricted": 0.02,
}

# Logit of a retry succeeding, before time, calendar, health and attempt effects. Hard: never by retry.
RETRY_BASE_LOGIT = {
    "insufficient_funds": -1.6,
    "do_not_honor": -1.8,
    "issuer_unavailable": -0.1,
    "avs_cvv_mismatch": -3.2,
    "restricted": -3.0,
}

# Daily chance that the customer fixes the payment (updates the card, authenticates or pays another way).
CUSTOMER_BASE_HAZARD = {
    "insufficient_funds": 0.010,
    "do_not_honor": 0.014,
    "expired_card": 0.032,
    "invalid_card_data": 0.030,
    "issuer_unavailable": 0.008,
    "avs_cvv_mismatch": 0.030,
    "lost_stolen_fraud": 0.028,
    "authentication_required": 0.040,
    "restricted": 0.018,
}
OUTREACH_DAYS = (0, 3, 7, 14)  # dunning touches after a failure; a touch triples that day's hazard
OUTREACH_BOOST = 3.0
RECOVERY_WINDOW_DAYS = 30


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def first_attempt_failure_probability(health):
    """Chance a card charge on a valid (unexpired) card fails on the first try."""
    return sigmoid(-2.35 - 0.9 * np.asarray(health))


def family_weights(health) -> np.ndarray:
    """Rows: one per event; columns: non-expiry families in FAMILY_MIX order; rows sum to 1."""
    health = np.asarray(health, dtype=float)
    names = list(FAMILY_MIX)
    weights = np.tile(np.array([FAMILY_MIX[n] for n in names]), (len(health), 1))
    weights[:, names.index("insufficient_funds")] *= np.exp(-0.6 * health)
    weights[:, names.index("do_not_honor")] *= np.exp(-0.2 * health)
    return weights / weights.sum(axis=1, keepdims=True)


def retry_success_probability(family, health, days_since_failure, at_day, at_hour, retry_number):
    """True chance that automatic retry number `retry_number` (1 = first retry) succeeds.

    family: array of family names; at_day: day numbers of the retry; at_hour: UTC hour 0-23.
    Hard declines never succeed by retry; the card must change first.
    """
    family = np.asarray(family)
    health = np.asarray(health, dtype=float)
    days = np.minimum(np.asarray(days_since_failure, dtype=float), 14.0)
    at_day = np.asarray(at_day)
    hour = np.asarray(at_hour)
    weekday = cal.weekday(at_day)
    payday = cal.is_payday(at_day)
    business_hours = (hour >= 13) & (hour <= 21)  # US working day in UTC
    logit = np.full(family.shape, -np.inf)
    for name, base in RETRY_BASE_LOGIT.items():
        rows = family == name
        value = base + 1.4 * health[rows] - 0.28 * (np.asarray(retry_number)[rows] - 1)
        if name == "insufficient_funds":
            value = value + 0.09 * days[rows] + 1.0 * payday[rows] + 0.25 * (hour[rows] < 12)
        elif name in ("do_not_honor", "restricted"):
            value = value + 0.45 * business_hours[rows] + 0.3 * (weekday[rows] < 5) + 0.2 * payday[rows]
        elif name == "issuer_unavailable":
            value = value - 0.2 * days[rows] + 0.3 * business_hours[rows]
        else:
            value = value + 0.2 * payday[rows]
        logit[rows] = value
    return np.where(np.isfinite(logit), sigmoid(logit), 0.0)


def customer_fix_hazard(family, health, days_since_failure):
    """Daily chance the customer fixes a failed payment on that day (after 0-based days since failure)."""
    family = np.asarray(family)
    base = np.array([CUSTOMER_BASE_HAZARD[f] for f in family]) if family.size else np.zeros(0)
    days = np.asarray(days_since_failure)
    scale = 2.6 * sigmoid(-0.1 + 1.8 * np.asarray(health, dtype=float))
    boost = np.where(np.isin(days, OUTREACH_DAYS), OUTREACH_BOOST, 1.0)
    if base.ndim < days.ndim:
        base, scale = base[:, None], scale[:, None]
    return np.clip(base * scale * boost, 0.0, 0.9)


def late_recovery_probability(health):
    """Chance an episode still unrecovered after 30 days is paid later through collections (days 31-120)."""
    return sigmoid(-0.4 + 1.2 * np.asarray(health, dtype=float))


def ach_return_probability(health):
    return sigmoid(-3.3 - 0.9 * np.asarray(health, dtype=float))


def ach_represent_success_probability(health, at_day):
    return sigmoid(-0.6 + 0.9 * np.asarray(health, dtype=float) + 0.9 * cal.is_payday(at_day))


# --- net-terms invoices -------------------------------------------------------------------------------------
SEGMENT_LATENESS = {"smb": 0.0, "mid_market": -0.2, "enterprise": -0.45}


def on_time_probability(health, segment_shift):
    return sigmoid(0.42 + 1.3 * np.asarray(health, dtype=float) + segment_shift)


def never_pay_probability(health):
    """Of the invoices not paid on time, the share never paid (written off later)."""
    return sigmoid(-3.9 - 1.3 * np.asarray(health, dtype=float))


def late_scale_days(health):
    return 13.0 * np.exp(-0.45 * np.asarray(health, dtype=float))


def intended_payment_cdf(offset_days, health, segment_shift, early_span):
    """P(intended payment day <= due date + offset) for net-terms invoices (before business-day rolling).

    On-time payers pick a day uniformly in [due - early_span, due]; late payers pay 1 + floor(Exp(scale)) days
    late; the rest never pay.
    """
    k = np.asarray(offset_days, dtype=float)
    q_on = on_time_probability(health, segment_shift)
    q_late = (1 - q_on) * (1 - never_pay_probability(health))
    span = np.asarray(early_span, dtype=float)
    early = np.clip((k + span + 1) / (span + 1), 0.0, 1.0)
    late = np.where(k >= 1, 1 - np.exp(-np.maximum(k, 0) / late_scale_days(health)), 0.0)
    return q_on * early + q_late * late
