"""Expectation suites in code: what the data-quality layer checks, on which frame, and how bad a failure is.

Division of labour (STYLE.md: never the same check in two tools):
  * ingest (pipelines/raw_contract.yml) already enforces the row contract: types, required values, enums, ranges,
    references, duplicate keys, due date >= invoice date, application currency = invoice currency;
  * dbt tests guard the marts;
  * these suites check what no single row can show: distributions of a load, consistency across files, event
    order across columns, and the domain of model outputs.

How a suite runs: its SQL aggregates in DuckDB to a small frame (one row, or one row per forecast run), and a
great-expectations suite validates that frame. Multi-million-row tables never travel to pandas, and the work
grows linearly with the load (one scan per rule).

Severity policy (expectation meta {"severity": ...}, mirrored in GX's own `severity` field):
  error   -- the published numbers would be wrong: cash counted twice, amounts in the wrong currency, event order
             that makes durations negative, model outputs outside their domain, incomplete or negative forecasts.
             A failed error check stops the build before the warehouse is published.
  warning -- plausible but unusual: a distribution outside its normal band, a few records a person should look
             at. The build publishes; the row stays in quality.validation_results and the data docs.
Human-typed fields (promises) get a warning at the first bad row and an error only when the share says the
mapping, not the typist, is wrong.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
STAGES = ("raw", "models")

# ---------------------------------------------------------------------------------- adjustable names and limits
# Model tables that do not exist yet: their suites are recorded as 'skipped' until the tables land.
RISK_SCORES_TABLE = "models.risk_scores"
RISK_PROBABILITY_COLUMN = "p_not_recovered_30d"
CASH_FORECAST_TABLE = "models.cash_forecast"
FORECAST_RUN_KEY = ("forecast_date", "series_id", "model")  # one forecast run of one series by one model
FORECAST_TARGET_COLUMN = "target_date"
FORECAST_VALUE_COLUMN = "forecast"
FORECAST_INTERVAL_COLUMNS = ("lo_95", "lo_80", "hi_80", "hi_95")  # widest low ... widest high
FORECAST_HORIZON: int | None = None  # target dates per run; None = the longest run in the table

FAILED_CARD_SHARE_BAND = (0.01, 0.40)
MAX_MEAN_DAYS_TO_DUE = 90
MAX_CROSS_ACCOUNT_APPLICATION_SHARE = 0.02
MAX_CURRENCY_MISMATCH_SHARE = 0.05  # invoice and payment currency = account currency for >= 95 %
MAX_BAD_PROMISE_SHARE = 0.01
EXAMPLES = 5  # keys of violating rows quoted in the details

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _table(qualified: str) -> str:
    schema, _, table = qualified.partition(".")
    return f"{_identifier(schema)}.{_identifier(table)}"


# ---------------------------------------------------------------------------------- definitions
@dataclass(frozen=True)
class Check:
    """One expectation: a GX expectation class on a column of the suite's frame, plus what it means."""

    name: str  # stable id, the `expectation` column of quality.validation_results
    severity: str
    expectation: str  # class in great_expectations.expectations
    kwargs: dict[str, Any]  # frame columns and bounds
    table: str  # the warehouse table the rule is about
    column: str | None  # the warehouse column(s) the rule is about
    description: str
    details: str = ""  # for one-row frames: str.format template over the frame's columns

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"{self.name}: severity must be one of {SEVERITIES}")


@dataclass(frozen=True)
class Suite:
    """SQL that yields the frame to validate, the checks on it, and the warehouse columns it needs."""

    name: str
    stage: str
    sql: str
    checks: tuple[Check, ...]
    requires: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> columns
    index_columns: tuple[str, ...] = ()  # frame columns naming a row in details (multi-row frames)
    row_noun: str = "rows"  # what one row of the frame is, for details
    description: str = ""


def violations(prefix: str, relation: str, key: str, condition: str, scope: str = "true") -> str:
    """One-row select: <prefix>_checked (rows in scope), _count (violating), _share and _examples (first keys).

    The relation (often a join) is evaluated once; counts and examples read the materialized flags.
    """
    return f"""
        with flagged as materialized (
            select
                cast({key} as varchar) as example_key,
                coalesce({scope}, false) as is_checked,
                coalesce(({scope}) and ({condition}), false) as is_violation
            from {relation}
        )

        select
            count(*) filter (where is_checked) as {prefix}_checked,
            count(*) filter (where is_violation) as {prefix}_count,
            cast(count(*) filter (where is_violation) as double)
                / nullif(count(*) filter (where is_checked), 0) as {prefix}_share,
            (
                select string_agg(example_key, ', ' order by example_key)
                from (select example_key from flagged where is_violation order by example_key limit {EXAMPLES})
            ) as {prefix}_examples
        from flagged"""


def one_row(*selects: str) -> str:
    """Cross join of one-row selects: the wide frame of a suite."""
    return "select * from " + "\ncross join ".join(f"({s}) as part_{i}" for i, s in enumerate(selects))


def between(column: str, min_value=None, max_value=None, **extra) -> dict[str, Any]:
    kwargs = {"column": column, **extra}
    if min_value is not None:
        kwargs["min_value"] = min_value
    if max_value is not None:
        kwargs["max_value"] = max_value
    return kwargs


def counted(prefix: str, noun: str) -> str:
    """Details template for a violations() block: "3 of 53 <noun>; e.g. <keys>"."""
    return f"{{{prefix}_count}} of {{{prefix}_checked}} {noun}{{{prefix}_examples}}"


# ---------------------------------------------------------------------------------- raw landings
RAW_DISTRIBUTIONS = Suite(
    name="raw_distributions",
    stage="raw",
    description="Shape of the load: values that are each valid but together say the export is wrong.",
    sql=one_row(
        """
        select
            count(*) filter (where method = 'card' and outcome in ('succeeded', 'failed')) as card_attempt_count,
            count(*) filter (where method = 'card' and outcome = 'failed') as failed_card_attempt_count,
            cast(count(*) filter (where method = 'card' and outcome = 'failed') as double)
                / nullif(count(*) filter (where method = 'card' and outcome in ('succeeded', 'failed')), 0)
                as failed_card_attempt_share
        from raw.payment_attempts""",
        """
        select
            count(*) as posted_invoice_count,
            cast(median(amount) as double) as median_invoice_amount,
            avg(cast(datediff('day', invoice_date, due_date) as double)) as mean_days_to_due
        from raw.invoices
        where status = 'posted'""",
    ),
    checks=(
        Check("failed_card_share_in_band", WARNING, "ExpectColumnValuesToBeBetween",
              between("failed_card_attempt_share", *FAILED_CARD_SHARE_BAND),
              "raw.payment_attempts", "outcome",
              f"Failed card attempts are between {FAILED_CARD_SHARE_BAND[0]:.0%} and {FAILED_CARD_SHARE_BAND[1]:.0%}"
              " of settled card attempts (outside: failures missing from the export, or an outage).",
              "{failed_card_attempt_count} failed of {card_attempt_count} settled card attempts"),
        Check("median_invoice_amount_positive", ERROR, "ExpectColumnValuesToBeBetween",
              between("median_invoice_amount", 0, strict_min=True),
              "raw.invoices", "amount",
              "The median posted invoice amount is above zero (zero: amounts mapped from the wrong field).",
              "median of {posted_invoice_count} posted invoices"),
        Check("mean_days_to_due_in_range", ERROR, "ExpectColumnValuesToBeBetween",
              between("mean_days_to_due", 0, MAX_MEAN_DAYS_TO_DUE),
              "raw.invoices", "invoice_date, due_date",
              f"Posted invoices fall due on average 0-{MAX_MEAN_DAYS_TO_DUE} days after the invoice date "
              "(beyond: due dates mapped from the wrong field, which would shift all aging).",
              "mean over {posted_invoice_count} posted invoices"),
    ),
)

RAW_CONSISTENCY = Suite(
    name="raw_consistency",
    stage="raw",
    description="Consistency across files, computed with joins in DuckDB.",
    sql=one_row(
        violations(
            "cross_account",
            """raw.payment_applications as applications
                inner join raw.payments as payments on payments.payment_id = applications.payment_id
                inner join raw.invoices as invoices on invoices.invoice_id = applications.invoice_id""",
            key="applications.application_id",
            condition="payments.account_id <> invoices.account_id"),
        violations(
            "multi_payment",
            """raw.payment_attempts as attempts
                left join (
                    select attempt_id, count(*) as payment_count
                    from raw.payments
                    where attempt_id is not null
                    group by attempt_id
                ) as paid on paid.attempt_id = attempts.attempt_id""",
            key="attempts.attempt_id",
            condition="paid.payment_count > 1",
            scope="attempts.outcome = 'succeeded'"),
        violations(
            "unsuccessful_attempt",
            """raw.payments as payments
                inner join raw.payment_attempts as attempts on attempts.attempt_id = payments.attempt_id""",
            key="payments.payment_id",
            condition="attempts.outcome <> 'succeeded'"),
        violations(
            "invoice_currency",
            """raw.invoices as invoices
                inner join raw.accounts as accounts on accounts.account_id = invoices.account_id""",
            key="invoices.invoice_id",
            condition="invoices.currency <> accounts.currency"),
        violations(
            "payment_currency",
            """raw.payments as payments
                inner join raw.accounts as accounts on accounts.account_id = payments.account_id""",
            key="payments.payment_id",
            condition="payments.currency <> accounts.currency"),
    ),
    checks=(
        Check("cross_account_applications_rare", ERROR, "ExpectColumnValuesToBeBetween",
              between("cross_account_share", max_value=MAX_CROSS_ACCOUNT_APPLICATION_SHARE),
              "raw.payment_applications", "payment_id, invoice_id",
              f"At most {MAX_CROSS_ACCOUNT_APPLICATION_SHARE:.0%} of cash applications put one account's payment on "
              "another account's invoice (more: account keys of billing and payments do not line up).",
              counted("cross_account", "applications")),
        Check("succeeded_attempt_single_payment", ERROR, "ExpectColumnValuesToBeBetween",
              between("multi_payment_count", 0, 0),
              "raw.payments", "attempt_id",
              "Every succeeded payment attempt produced at most one payment (more: cash counted twice).",
              counted("multi_payment", "succeeded attempts have several payments")),
        Check("payment_attempt_succeeded", WARNING, "ExpectColumnValuesToBeBetween",
              between("unsuccessful_attempt_count", 0, 0),
              "raw.payments", "attempt_id",
              "Payments that name a gateway attempt name one that succeeded.",
              counted("unsuccessful_attempt", "payments from a failed or pending attempt")),
        Check("invoice_currency_matches_account", ERROR, "ExpectColumnValuesToBeBetween",
              between("invoice_currency_share", max_value=MAX_CURRENCY_MISMATCH_SHARE),
              "raw.invoices", "currency",
              f"At least {1 - MAX_CURRENCY_MISMATCH_SHARE:.0%} of invoices are in their account's currency "
              "(observed: the share that is not).",
              counted("invoice_currency", "invoices differ from the account currency")),
        Check("payment_currency_matches_account", WARNING, "ExpectColumnValuesToBeBetween",
              between("payment_currency_count", 0, 0),
              "raw.payments", "currency",
              "Every payment is in its account's currency.",
              counted("payment_currency", "payments differ from the account currency")),
        Check("payment_currency_mostly_matches_account", ERROR, "ExpectColumnValuesToBeBetween",
              between("payment_currency_share", max_value=MAX_CURRENCY_MISMATCH_SHARE),
              "raw.payments", "currency",
              f"At least {1 - MAX_CURRENCY_MISMATCH_SHARE:.0%} of payments are in their account's currency "
              "(observed: the share that is not).",
              counted("payment_currency", "payments differ from the account currency")),
    ),
)

RAW_DATE_ORDER = Suite(
    name="raw_date_order",
    stage="raw",
    description="Events in the order they can happen. Timestamps are UTC and dates local: one day of slack "
                "where a timestamp is compared with a date.",
    sql=one_row(
        violations("invoice_posted", "raw.invoices as invoices", key="invoices.invoice_id",
                   condition="cast(invoices.posted_at as date) < invoices.invoice_date - interval 1 day"),
        violations("dispute_closed", "raw.disputes as disputes", key="disputes.dispute_id",
                   condition="disputes.closed_at < disputes.opened_at"),
        violations("case_closed", "raw.cases as cases", key="cases.case_id",
                   condition="cases.closed_at < cases.opened_at"),
        violations("promise_date", "raw.promises_to_pay as promises", key="promises.promise_id",
                   condition="promises.promised_date < cast(promises.promised_at as date) - interval 1 day"),
    ),
    checks=(
        Check("invoice_posted_not_before_invoice_date", WARNING, "ExpectColumnValuesToBeBetween",
              between("invoice_posted_count", 0, 0),
              "raw.invoices", "posted_at, invoice_date",
              "Invoices are posted no earlier than the day before their invoice date (billing in advance can do "
              "this legitimately; it moves invoices into an earlier posting period).",
              counted("invoice_posted", "invoices posted before their invoice date")),
        Check("dispute_closed_not_before_opened", ERROR, "ExpectColumnValuesToBeBetween",
              between("dispute_closed_count", 0, 0),
              "raw.disputes", "opened_at, closed_at",
              "Disputes close no earlier than they open.",
              counted("dispute_closed", "disputes closed before opened")),
        Check("case_closed_not_before_opened", ERROR, "ExpectColumnValuesToBeBetween",
              between("case_closed_count", 0, 0),
              "raw.cases", "opened_at, closed_at",
              "Cases close no earlier than they open.",
              counted("case_closed", "cases closed before opened")),
        Check("promise_date_not_before_promise", WARNING, "ExpectColumnValuesToBeBetween",
              between("promise_date_count", 0, 0),
              "raw.promises_to_pay", "promised_at, promised_date",
              "Every promise is to pay on or after the day it was made.",
              counted("promise_date", "promises dated before they were made")),
        Check("promise_date_mostly_not_before_promise", ERROR, "ExpectColumnValuesToBeBetween",
              between("promise_date_share", max_value=MAX_BAD_PROMISE_SHARE),
              "raw.promises_to_pay", "promised_at, promised_date",
              f"At most {MAX_BAD_PROMISE_SHARE:.0%} of promises are dated before they were made (more: the "
              "promised date is mapped from the wrong field, and every such promise counts as broken).",
              counted("promise_date", "promises dated before they were made")),
    ),
)


# ---------------------------------------------------------------------------------- model outputs
def _risk_scores_suite() -> Suite:
    table, p = _table(RISK_SCORES_TABLE), _identifier(RISK_PROBABILITY_COLUMN)
    return Suite(
        name="model_risk_scores",
        stage="models",
        description="Risk model output: one probability per scored item.",
        requires={RISK_SCORES_TABLE: (RISK_PROBABILITY_COLUMN,)},
        sql=f"""
            select
                count(*) as score_count,
                count(*) filter (where {p} is null) as null_probability_count,
                count(*) filter (where {p} < 0 or {p} > 1 or isnan({p})) as outside_probability_count,
                cast(min({p}) as double) as min_probability,
                cast(max({p}) as double) as max_probability
            from {table}""",
        checks=(
            Check("risk_scores_present", WARNING, "ExpectColumnValuesToBeBetween", between("score_count", 1),
                  RISK_SCORES_TABLE, None, "The risk table holds at least one score.", "{score_count} rows"),
            Check("risk_probability_not_null", ERROR, "ExpectColumnValuesToBeBetween",
                  between("null_probability_count", 0, 0), RISK_SCORES_TABLE, RISK_PROBABILITY_COLUMN,
                  "Every score has a probability.", "{null_probability_count} of {score_count} scores are null"),
            Check("risk_probability_in_unit_interval", ERROR, "ExpectColumnValuesToBeBetween",
                  between("outside_probability_count", 0, 0), RISK_SCORES_TABLE, RISK_PROBABILITY_COLUMN,
                  "Every probability lies in [0, 1].",
                  "{outside_probability_count} of {score_count} scores outside [0, 1]; "
                  "min {min_probability}, max {max_probability}"),
        ),
    )


def _cash_forecast_suite() -> Suite:
    table = _table(CASH_FORECAST_TABLE)
    run_key = ", ".join(_identifier(c) for c in FORECAST_RUN_KEY)
    target, value = _identifier(FORECAST_TARGET_COLUMN), _identifier(FORECAST_VALUE_COLUMN)
    lo95, lo80, hi80, hi95 = (_identifier(c) for c in FORECAST_INTERVAL_COLUMNS)
    values = (value, *FORECAST_INTERVAL_COLUMNS)
    horizon = "cast(null as bigint)" if FORECAST_HORIZON is None else str(int(FORECAST_HORIZON))
    return Suite(
        name="model_cash_forecast",
        stage="models",
        description="Cash forecast output, one row per forecast run: complete horizons, ordered intervals, "
                    "no negative cash.",
        requires={CASH_FORECAST_TABLE: (*FORECAST_RUN_KEY, FORECAST_TARGET_COLUMN, *values)},
        index_columns=FORECAST_RUN_KEY,
        row_noun="forecast runs",
        sql=f"""
            with runs as (
                select
                    {run_key},
                    count(*) as row_count,
                    count(distinct {target}) as target_count,
                    count(*) filter (where {' or '.join(f'{c} is null' for c in values)}) as null_value_count,
                    count(*) filter (where {value} < 0) as negative_forecast_count,
                    count(*) filter (where {lo80} < 0 or {lo95} < 0) as negative_lower_bound_count,
                    count(*) filter (where not ({lo95} <= {lo80} and {lo80} <= {value} and {value} <= {hi80}
                                               and {hi80} <= {hi95})) as misordered_interval_count
                from {table}
                group by {run_key}
            )

            select
                *,
                coalesce({horizon}, max(target_count) over ()) - target_count as missing_target_count,
                row_count - target_count as duplicate_target_count
            from runs
            order by {run_key}""",
        checks=(
            Check("forecast_runs_present", WARNING, "ExpectTableRowCountToBeBetween", {"min_value": 1},
                  CASH_FORECAST_TABLE, None, "The forecast table holds at least one forecast run."),
            Check("forecast_horizon_complete", ERROR, "ExpectColumnValuesToBeBetween",
                  between("missing_target_count", 0, 0), CASH_FORECAST_TABLE, FORECAST_TARGET_COLUMN,
                  "Every forecast run covers the full horizon "
                  + ("(the longest run in the table)." if FORECAST_HORIZON is None
                     else f"({FORECAST_HORIZON} target dates).")),
            Check("forecast_target_dates_unique", ERROR, "ExpectColumnValuesToBeBetween",
                  between("duplicate_target_count", 0, 0), CASH_FORECAST_TABLE, FORECAST_TARGET_COLUMN,
                  "A forecast run forecasts each target date once."),
            Check("forecast_values_present", ERROR, "ExpectColumnValuesToBeBetween",
                  between("null_value_count", 0, 0), CASH_FORECAST_TABLE, ", ".join(values),
                  "Forecasts and interval bounds are never null."),
            Check("forecast_not_negative", ERROR, "ExpectColumnValuesToBeBetween",
                  between("negative_forecast_count", 0, 0), CASH_FORECAST_TABLE, FORECAST_VALUE_COLUMN,
                  "No forecast of cash collected is negative."),
            Check("forecast_intervals_nested", ERROR, "ExpectColumnValuesToBeBetween",
                  between("misordered_interval_count", 0, 0), CASH_FORECAST_TABLE, ", ".join(values),
                  "lo_95 <= lo_80 <= forecast <= hi_80 <= hi_95 on every row."),
            Check("forecast_lower_bounds_not_negative", WARNING, "ExpectColumnValuesToBeBetween",
                  between("negative_lower_bound_count", 0, 0), CASH_FORECAST_TABLE, f"{lo80}, {lo95}",
                  "Interval lower bounds are not negative (cash cannot be; clip the interval)."),
        ),
    )


def suites_for(stage: str) -> list[Suite]:
    """The suites of one stage, in the order they run and are reported."""
    if stage == "raw":
        return [RAW_DISTRIBUTIONS, RAW_CONSISTENCY, RAW_DATE_ORDER]
    if stage == "models":
        return [_risk_scores_suite(), _cash_forecast_suite()]
    raise ValueError(f"unknown data-quality stage {stage!r}; expected one of {', '.join(STAGES)}")


def to_gx_suite(suite: Suite):
    """The great_expectations.ExpectationSuite for `suite` (imports GX: call only when validating)."""
    import great_expectations as gx
    from great_expectations.expectations.metadata_types import FailureSeverity

    native = {ERROR: FailureSeverity.CRITICAL, WARNING: FailureSeverity.WARNING}
    expectations = []
    for check in suite.checks:
        cls = getattr(gx.expectations, check.expectation)
        meta = {"severity": check.severity, "check": check.name, "table": check.table, "column": check.column,
                "description": check.description}
        extra = {"severity": native[check.severity]} if "severity" in getattr(cls, "__fields__", {}) else {}
        expectations.append(cls(**check.kwargs, meta=meta, **extra))
    return gx.ExpectationSuite(name=suite.name, expectations=expectations)
