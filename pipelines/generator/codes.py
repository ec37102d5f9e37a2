"""Real decline, return and dispute codes the simulator emits, with realistic weights per family.

Kept separate from the warehouse's classification seeds on purpose: the simulator speaks the gateways' language
and the warehouse has to understand it, as it would a real export.
"""

from __future__ import annotations

import numpy as np

# family -> [(stripe decline_code, ISO 8583 response code, weight)]
CARD_DECLINE_CODES = {
    "insufficient_funds": [("insufficient_funds", "51", 1.0)],
    "do_not_honor": [("do_not_honor", "05", 0.6), ("generic_decline", "05", 0.34), ("call_issuer", "01", 0.06)],
    "expired_card": [("expired_card", "54", 1.0)],
    "invalid_card_data": [("incorrect_number", "14", 0.6), ("invalid_number", "14", 0.4)],
    "issuer_unavailable": [("issuer_not_available", "91", 0.5), ("processing_error", "96", 0.35),
                           ("try_again_later", "19", 0.15)],
    "avs_cvv_mismatch": [("incorrect_cvc", "N7", 0.65), ("invalid_cvc", "N7", 0.2), ("incorrect_zip", "05", 0.15)],
    "lost_stolen_fraud": [("lost_card", "41", 0.3), ("stolen_card", "43", 0.3), ("pickup_card", "04", 0.15),
                          ("fraudulent", "59", 0.25)],
    "authentication_required": [("authentication_required", "1A", 1.0)],
    "restricted": [("restricted_card", "62", 1.0)],
}

# Mastercard merchant advice codes sent with a decline, by family: [(advice code or "", weight)]
MASTERCARD_ADVICE = {
    "insufficient_funds": [("", 0.75), ("24", 0.25)],
    "do_not_honor": [("", 0.75), ("02", 0.25)],
    "expired_card": [("01", 0.8), ("", 0.2)],
    "invalid_card_data": [("03", 0.5), ("01", 0.3), ("", 0.2)],
    "issuer_unavailable": [("02", 0.5), ("", 0.5)],
    "avs_cvv_mismatch": [("", 1.0)],
    "lost_stolen_fraud": [("03", 0.9), ("", 0.1)],
    "authentication_required": [("", 1.0)],
    "restricted": [("", 0.7), ("21", 0.3)],
}

CARD_BRANDS = [("visa", 0.55), ("mastercard", 0.30), ("amex", 0.12), ("discover", 0.03)]

# NACHA return codes of ACH debits, with their share of returns.
ACH_RETURN_CODES = [
    ("R01", 0.62), ("R09", 0.04), ("R02", 0.10), ("R03", 0.07), ("R04", 0.04), ("R08", 0.04), ("R16", 0.02),
    ("R20", 0.03), ("R05", 0.01), ("R07", 0.01), ("R10", 0.015), ("R29", 0.005),
]
ACH_RETRYABLE = ("R01", "R09")

# (network, reason code, weight) for card disputes on B2B subscriptions.
DISPUTE_REASONS = {
    "visa": [("10.4", 0.35), ("13.1", 0.15), ("13.2", 0.3), ("12.6", 0.1), ("13.6", 0.1)],
    "mastercard": [("4837", 0.35), ("4853", 0.45), ("4834", 0.2)],
    "amex": [("C28", 0.5), ("F29", 0.3), ("P08", 0.2)],
    "discover": [("4541", 0.6), ("4752", 0.4)],
}


def pick(rng: np.random.Generator, options: list[tuple], size: int) -> np.ndarray:
    """Draw `size` option indices by the weights in each option's last field."""
    weights = np.array([o[-1] for o in options], dtype=float)
    return rng.choice(len(options), size=size, p=weights / weights.sum())
