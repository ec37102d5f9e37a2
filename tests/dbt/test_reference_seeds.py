"""Reference seeds (dbt_project/seeds/ref_*.csv): code coverage, vocabularies and retry rules."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipelines.reference import (
    CHARGEBACK_NETWORKS,
    CODE_SYSTEMS,
    DECLINE_FAMILIES,
    DISPUTE_CATEGORIES,
    NACHA_CATEGORIES,
    RESOLUTION_PATHS,
    RETRY_RULES,
    SEEDS_DIR,
    TEMPLATE_IDS,
    UNMAPPED_FAMILY,
    VISA_CATEGORIES,
)

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared"
REFERENCE_DIR = SHARED_DIR / "reference"

VISA_CATEGORY_1_ISO = ("04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3")
STRIPE_NEVER_RETRY = (
    "incorrect_number",
    "lost_card",
    "pickup_card",
    "stolen_card",
    "revocation_of_authorization",
    "revocation_of_all_authorizations",
    "authentication_required",
    "highest_risk_level",
)
MAC_WAIT_HOURS = {"24": 1, "25": 24, "26": 48, "27": 96, "28": 144, "29": 192, "30": 240}
NACHA_UNAUTHORIZED = {"R05", "R07", "R10", "R11", "R29"}
NACHA_ADMINISTRATIVE = {"R02", "R03", "R04"}
NETWORK_NAMES = {
    "Visa": "visa",
    "Visa (legacy)": "visa",
    "Mastercard": "mastercard",
    "Mastercard (legacy)": "mastercard",
    "Discover": "discover",
    "American Express": "amex",
}
SEED_NAMES = (
    "ref_decline_codes",
    "ref_merchant_advice_codes",
    "ref_ach_return_codes",
    "ref_chargeback_reasons",
)
BOOLEANS = {"true", "false"}
CJK = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")


def read_csv(path: Path) -> pd.DataFrame:
    # utf-8-sig: the Checkout.com file starts with a byte-order mark.
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def seed(name: str) -> pd.DataFrame:
    return read_csv(SEEDS_DIR / f"{name}.csv")


@pytest.fixture(scope="module")
def reference_dir() -> Path:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"shared reference folder not found at {REFERENCE_DIR}; coverage checks need it")
    return REFERENCE_DIR


@pytest.fixture(scope="module")
def declines() -> pd.DataFrame:
    return seed("ref_decline_codes")


@pytest.fixture(scope="module")
def macs() -> pd.DataFrame:
    return seed("ref_merchant_advice_codes")


@pytest.fixture(scope="module")
def ach() -> pd.DataFrame:
    return seed("ref_ach_return_codes")


@pytest.fixture(scope="module")
def chargebacks() -> pd.DataFrame:
    return seed("ref_chargeback_reasons")


def codes_of(declines: pd.DataFrame, system: str) -> set[str]:
    return set(declines.loc[declines["code_system"] == system, "code"])


def individual_codes(group: str) -> list[str]:
    """'F29 / FR2' -> ['F29', 'FR2']; 'R40-R47' -> ['R40', ..., 'R47']; a single code -> []."""
    if " / " in group:
        return [c.strip() for c in group.split(" / ")]
    match = re.fullmatch(r"R(\d\d)-R(\d\d)", group)
    if match:
        return [f"R{n:02d}" for n in range(int(match.group(1)), int(match.group(2)) + 1)]
    return []


def stripe_code(raw: str) -> str:
    """Partner variants keep their own code: 'expired_card (partner_expired_card)' -> partner code."""
    match = re.search(r"\((\w+)\)", raw)
    return match.group(1) if match else raw.strip()


# ---------------------------------------------------------------- coverage of every reference code


def test_every_stripe_code_is_in_the_seed(reference_dir: Path, declines: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "decline_codes_stripe.csv")
    expected = [stripe_code(c) for c in src["decline_code"]]
    assert len(expected) == len(set(expected)), "partner variants must stay distinct"
    assert set(expected) <= codes_of(declines, "stripe_decline_code")
    assert "partner_expired_card" in expected and "expired_card" in expected


def test_every_iso8583_response_code_is_in_the_seed(reference_dir: Path, declines: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "response_codes_iso8583.csv")
    expected = set(src.loc[src["code_system"] == "iso8583_rc", "code"])
    assert {"01", "1A", "N7", "R0"} <= expected
    assert expected <= codes_of(declines, "iso8583_response_code")


def test_every_checkout_com_code_is_in_the_seed(reference_dir: Path, declines: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "checkout_com_response_codes" / "response_codes.csv")
    assert "Code" in src.columns, "byte-order mark not stripped from the header"
    expected = set(src["Code"].str.strip())
    assert {"20051", "30004", "2005C"} <= expected
    assert expected <= codes_of(declines, "checkout_com_response_code")


def test_every_merchant_advice_code_is_in_the_seed(reference_dir: Path, macs: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "response_codes_iso8583.csv")
    expected = set(src.loc[src["code_system"] == "mastercard_mac", "code"])
    assert set(macs["advice_code"]) == expected


def test_every_ach_return_code_is_in_the_seed(reference_dir: Path, ach: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "ach_return_codes.csv")
    # Grouped rows ('R40-R47') are kept as written and each code in the range also gets its own row.
    expected = set(src["code"]) | {c for group in src["code"] for c in individual_codes(group)}
    assert {"R40-R47", "R40", "R47", "R71", "R76"} <= expected
    assert set(ach["return_code"]) == expected


def test_every_chargeback_reason_is_in_the_seed(reference_dir: Path, chargebacks: pd.DataFrame) -> None:
    src = read_csv(reference_dir / "chargeback_reasons.csv")
    as_listed = {(NETWORK_NAMES[n], c) for n, c in zip(src["network"], src["code"], strict=True)}
    assert len(as_listed) == len(src)
    # Grouped rows ('F29 / FR2') are kept as written and each code in the group also gets its own row.
    individual = {(net, c) for net, group in as_listed for c in individual_codes(group)}
    assert {("amex", "F29"), ("discover", "4866"), ("visa", "93")} <= individual
    assert set(zip(chargebacks["network"], chargebacks["reason_code"], strict=True)) == as_listed | individual
    grouped = chargebacks.set_index(["network", "reason_code"])
    for net, group in as_listed:
        for code in individual_codes(group):
            assert (
                grouped.loc[(net, code), "dispute_category"] == grouped.loc[(net, group), "dispute_category"]
            )


def test_descriptions_are_short_english_paraphrases(reference_dir: Path) -> None:
    source_texts: set[str] = set()
    stripe = read_csv(reference_dir / "decline_codes_stripe.csv")
    iso = read_csv(reference_dir / "response_codes_iso8583.csv")
    ach_src = read_csv(reference_dir / "ach_return_codes.csv")
    cko = read_csv(reference_dir / "checkout_com_response_codes" / "response_codes.csv")
    cb_src = read_csv(reference_dir / "chargeback_reasons.csv")
    columns = (stripe["what_it_means"], iso["meaning"], ach_src["title"], ach_src["meaning_paraphrased"])
    for column in (*columns, cb_src["title"]):
        source_texts |= set(column.str.strip().str.lower())
    english = cko["Message"].str.replace(CJK.pattern + ".*$", "", regex=True)
    english = english.str.replace(r"^(Issuer decline|Card Payout) - ", "", regex=True)
    source_texts |= set(english.str.strip().str.lower())
    for name in SEED_NAMES:
        descriptions = seed(name)["description"]
        assert (descriptions.str.strip() != "").all(), name
        assert not descriptions.str.contains(CJK).any(), f"{name}: non-English text"
        assert not descriptions.str.contains("http", case=False).any(), f"{name}: copied URL"
        assert descriptions.str.len().max() <= 200, name
        copied = descriptions[descriptions.str.strip().str.lower().isin(source_texts)]
        assert copied.empty, f"{name}: copied verbatim: {copied.tolist()}"


# ---------------------------------------------------------------- vocabularies and keys


def test_decline_code_vocabularies(declines: pd.DataFrame) -> None:
    assert set(declines["code_system"]) == set(CODE_SYSTEMS)
    assert set(declines["decline_family"]) <= set(DECLINE_FAMILIES)
    assert UNMAPPED_FAMILY not in set(declines["decline_family"])
    assert set(declines["retry_rule"]) <= set(RETRY_RULES)
    assert set(declines["resolution_path"]) <= set(RESOLUTION_PATHS)
    assert set(declines["template_id"]) <= set(TEMPLATE_IDS)
    assert set(declines["visa_category"]) <= {""} | {str(c) for c in VISA_CATEGORIES}
    for column in ("is_approval", "is_hard_decline", "is_retry_allowed"):
        assert set(declines[column]) <= BOOLEANS, column
    assert (declines["code"].str.strip() == declines["code"]).all()
    assert (declines["code"] != "").all()


def test_other_seed_vocabularies(macs: pd.DataFrame, ach: pd.DataFrame, chargebacks: pd.DataFrame) -> None:
    for frame in (macs, ach):
        assert set(frame["resolution_path"]) <= set(RESOLUTION_PATHS)
        assert set(frame["template_id"]) <= set(TEMPLATE_IDS)
    assert set(macs["is_retry_allowed"]) | set(macs["is_never_retry"]) <= BOOLEANS
    assert macs["min_wait_hours"].str.fullmatch(r"\d+").all()
    assert set(ach["nacha_category"]) <= set(NACHA_CATEGORIES)
    assert set(ach["decline_family"]) <= set(DECLINE_FAMILIES) - {"approved"}
    assert set(ach["is_reinitiation_allowed"]) | set(ach["is_hard_decline"]) <= BOOLEANS
    assert set(ach["max_reinitiations"]) <= {"0", "1", "2"}
    assert set(chargebacks["network"]) <= set(CHARGEBACK_NETWORKS)
    assert set(chargebacks["dispute_category"]) <= set(DISPUTE_CATEGORIES)
    assert set(chargebacks["resolution_path"]) <= {"open_dispute_case", "stop_and_escalate"}
    assert set(chargebacks["template_id"]) <= set(TEMPLATE_IDS)


def test_no_duplicate_keys(
    declines: pd.DataFrame, macs: pd.DataFrame, ach: pd.DataFrame, chargebacks: pd.DataFrame
) -> None:
    assert not declines.duplicated(["code_system", "code"]).any()
    assert not macs["advice_code"].duplicated().any()
    assert not ach["return_code"].duplicated().any()
    assert not chargebacks.duplicated(["network", "reason_code"]).any()


def test_seed_yaml_matches_python_vocabularies() -> None:
    spec = yaml.safe_load((SEEDS_DIR / "_seeds.yml").read_text(encoding="utf-8"))
    seeds = {s["name"]: s for s in spec["seeds"]}
    assert set(seeds) == set(SEED_NAMES)

    def accepted(seed_name: str, column: str) -> list:
        for col in seeds[seed_name]["columns"]:
            if col["name"] == column:
                for test in col.get("data_tests", []):
                    if isinstance(test, dict) and "accepted_values" in test:
                        return test["accepted_values"]["arguments"]["values"]
        raise AssertionError(f"no accepted_values on {seed_name}.{column}")

    assert tuple(accepted("ref_decline_codes", "code_system")) == CODE_SYSTEMS
    assert tuple(accepted("ref_decline_codes", "decline_family")) == DECLINE_FAMILIES
    assert tuple(accepted("ref_ach_return_codes", "decline_family")) == DECLINE_FAMILIES
    assert tuple(accepted("ref_decline_codes", "retry_rule")) == RETRY_RULES
    assert tuple(accepted("ref_decline_codes", "visa_category")) == VISA_CATEGORIES
    assert tuple(accepted("ref_ach_return_codes", "nacha_category")) == NACHA_CATEGORIES
    assert tuple(accepted("ref_chargeback_reasons", "dispute_category")) == DISPUTE_CATEGORIES
    assert tuple(accepted("ref_chargeback_reasons", "network")) == CHARGEBACK_NETWORKS
    for name in ("ref_decline_codes", "ref_merchant_advice_codes", "ref_ach_return_codes"):
        assert tuple(accepted(name, "resolution_path")) == RESOLUTION_PATHS
        assert tuple(accepted(name, "template_id")) == TEMPLATE_IDS

    code_columns = {
        "ref_decline_codes": "code",
        "ref_merchant_advice_codes": "advice_code",
        "ref_ach_return_codes": "return_code",
        "ref_chargeback_reasons": "reason_code",
    }
    for name, key in code_columns.items():
        types = seeds[name]["config"]["column_types"]
        assert list(types) == list(seed(name).columns), f"{name}: column_types must list every column"
        assert types[key] == "string"
        for column, sql_type in types.items():
            if column.startswith("is_"):
                assert sql_type == "boolean", (name, column)


# ---------------------------------------------------------------- retry rules


def test_flags_are_consistent(declines: pd.DataFrame) -> None:
    approval = declines["is_approval"] == "true"
    hard = declines["is_hard_decline"] == "true"
    retry = declines["is_retry_allowed"] == "true"
    assert (approval == (declines["decline_family"] == "approved")).all()
    assert (approval == (declines["retry_rule"] == "not_applicable")).all()
    assert (declines.loc[approval, ["resolution_path", "template_id"]] == "none").all().all()
    assert not (approval & (hard | retry)).any()
    assert not (hard & retry).any(), "a hard decline is never retried with the same credentials"
    assert (retry == (declines["retry_rule"] == "visa_15_in_30")).all()
    assert (declines.loc[~approval, "resolution_path"] != "none").all()
    assert not retry[declines["visa_category"] == "1"].any(), "Visa category 1 is never retried"


def test_visa_category_1_codes_are_not_retryable(declines: pd.DataFrame) -> None:
    iso = declines[declines["code_system"] == "iso8583_response_code"].set_index("code")
    rows = iso.loc[list(VISA_CATEGORY_1_ISO)]
    assert (rows["is_retry_allowed"] == "false").all()
    assert (rows["visa_category"] == "1").all()
    assert (rows["retry_rule"] == "never").all()


def test_stripe_never_retry_list_is_not_retryable(declines: pd.DataFrame) -> None:
    stripe = declines[declines["code_system"] == "stripe_decline_code"].set_index("code")
    rows = stripe.loc[list(STRIPE_NEVER_RETRY)]
    assert (rows["is_retry_allowed"] == "false").all()
    assert (rows["is_hard_decline"] == "true").all()
    assert set(rows["retry_rule"]) <= {"never", "after_update"}


def test_merchant_advice_codes(macs: pd.DataFrame) -> None:
    by_code = macs.set_index("advice_code")
    never = by_code["is_never_retry"] == "true"
    assert set(by_code.index[never]) == {"03", "21"}
    assert (by_code.loc[["03", "21"], "is_retry_allowed"] == "false").all()
    waits = by_code["min_wait_hours"].astype(int).to_dict()
    assert waits == {code: MAC_WAIT_HOURS.get(code, 0) for code in by_code.index}
    assert (by_code.loc[list(MAC_WAIT_HOURS), "is_retry_allowed"] == "true").all()


def test_ach_reinitiation_and_categories(ach: pd.DataFrame) -> None:
    by_code = ach.set_index("return_code")
    assert (by_code.loc[["R01", "R09"], "max_reinitiations"] == "2").all()
    assert (by_code.loc[["R01", "R09"], "reinitiation_window_days"] == "180").all()
    assert (by_code.loc[["R01", "R09"], "decline_family"] == "insufficient_funds").all()
    others = by_code.drop(index=["R01", "R09"])
    assert (others["reinitiation_window_days"] == "").all()
    assert (others["max_reinitiations"] != "2").all()
    allowed = by_code["is_reinitiation_allowed"] == "true"
    assert ((by_code["max_reinitiations"] == "0") == ~allowed).all()

    def category(code: str) -> str:
        if code in NACHA_UNAUTHORIZED:
            return "unauthorized"
        return "administrative" if code in NACHA_ADMINISTRATIVE else "other"

    expected_category = {code: category(code) for code in by_code.index}
    assert by_code["nacha_category"].to_dict() == expected_category
    assert not allowed[sorted(NACHA_UNAUTHORIZED - {"R11"})].any(), "unauthorized returns need a new mandate"
