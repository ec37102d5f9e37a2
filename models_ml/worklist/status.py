"""The daily status for leads: yesterday's recoveries, backlog by family and bucket, the forecast for today and
this week, SLA breaches and promises due."""

from __future__ import annotations

import pandas as pd

from models_ml.io import read_frame, table_exists


def daily_status(con, as_of: str) -> dict:
    """Sections (title, frame or sentence) for the working day after `as_of`."""
    sections = []
    yesterday = read_frame(con, f"""
        select report_date as day, round(cash_collected, 2) as cash_collected, payment_count as payments,
               recovered_episode_count as failed_payments_recovered, recovered_amount,
               failed_attempt_count as failed_attempts, open_ar
        from reports.rpt_kpis_daily where report_date = date '{as_of}'
    """)
    yesterday["day"] = pd.to_datetime(yesterday["day"]).dt.date
    sections.append((f"Yesterday ({as_of})", yesterday))
    backlog_family = read_frame(con, """
        select decline_family, count(*) as items, round(sum(failed_amount_reporting), 2) as amount
        from marts.fct_failed_payment_episodes where episode_status = 'in_progress'
        group by decline_family order by amount desc
    """)
    sections.append(("Failed-payment backlog by decline family (in the 30-day window)", backlog_family))
    backlog_bucket = read_frame(con, """
        select aging_bucket, count(*) as invoices, round(sum(open_amount_reporting), 2) as amount
        from marts.fct_aging_snapshots where is_as_of_snapshot
        group by aging_bucket order by min(days_past_due)
    """)
    sections.append(("Open AR by aging bucket", backlog_bucket))
    if table_exists(con, "models", "cash_forecast"):
        forecast = read_frame(con, """
            select target_date, round(forecast, 2) as forecast, round(lo_80, 2) as lo_80, round(hi_80, 2) as hi_80
            from models.cash_forecast
            where series_id = 'total' and model = 'reconciled'
            order by target_date limit 7
        """) if _has_columns(con, "models", "cash_forecast", ("series_id", "model")) else pd.DataFrame()
        forecast["target_date"] = pd.to_datetime(forecast["target_date"]).dt.date
        sections.append(("Cash forecast, next 7 days", forecast))
    else:
        sections.append(("Cash forecast", "No forecast in this warehouse yet."))
    if table_exists(con, "models", "worklist"):
        breaches = read_frame(con, """
            select assigned_collector as collector, account_name, reply_deadline, cases_past_sla
            from models.worklist where is_reply_sla_breached or cases_past_sla > 0 order by rank
        """)
        sections.append(("SLA breaches", breaches))
    promises = read_frame(con, f"""
        select p.collector, a.account_name, p.promised_date, p.promised_amount, p.currency
        from marts.fct_promises_to_pay as p join marts.dim_accounts as a using (account_id)
        where p.promise_status = 'open' and p.promised_date <= date '{as_of}' + 7
        order by p.promised_date, p.collector
    """)
    sections.append(("Promises to pay due this week", promises))
    return {"date": str(pd.Timestamp(as_of) + pd.Timedelta(days=1))[:10], "sections": sections}


def _has_columns(con, schema: str, table: str, columns: tuple[str, ...]) -> bool:
    found = set(read_frame(con, "select column_name from information_schema.columns where table_schema = ? "
                                "and table_name = ?", [schema, table])["column_name"])
    return set(columns) <= found
