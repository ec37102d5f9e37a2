"""Controlled vocabularies of the reference seeds (dbt_project/seeds/ref_*.csv), shared by Python code."""

from __future__ import annotations

from pathlib import Path

SEEDS_DIR: Path = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"

# Family given to a failure code that is NOT in the seeds (counted, never dropped); never used inside a seed.
UNMAPPED_FAMILY = "unmapped"

CODE_SYSTEMS = (
    "stripe_decline_code",
    "iso8583_response_code",
    "checkout_com_response_code",
)

DECLINE_FAMILIES = (
    "approved",
    "insufficient_funds",
    "expired_card",
    "invalid_card_data",
    "do_not_honor",
    "issuer_unavailable",
    "avs_cvv_mismatch",
    "authentication_required",
    "lost_stolen_fraud",
    "restricted",
    "duplicate",
    "merchant_configuration",
    "revoked_authorization",
    "limit_exceeded",
    "other_decline",
)

RETRY_RULES = ("never", "visa_15_in_30", "after_update", "not_applicable")

RESOLUTION_PATHS = (
    "none",
    "retry_on_schedule",
    "update_payment_method",
    "customer_contacts_issuer",
    "authenticate",
    "stop_and_escalate",
    "open_dispute_case",
    "fix_merchant_setup",
)

TEMPLATE_IDS = (
    "none",
    "tpl_payment_failed_retry",
    "tpl_card_update_request",
    "tpl_card_expired",
    "tpl_contact_issuer",
    "tpl_authenticate_payment",
    "tpl_account_escalation",
    "tpl_merchant_ops_alert",
    "tpl_bank_details_update",
    "tpl_dispute_evidence_request",
)

VISA_CATEGORIES = (1, 2, 3, 4)

NACHA_CATEGORIES = ("unauthorized", "administrative", "other")

DISPUTE_CATEGORIES = ("fraud", "authorization", "processing_error", "consumer_dispute")

CHARGEBACK_NETWORKS = ("visa", "mastercard", "discover", "amex")
