"""Spreadsheet-ready exports: the worklist (CSV or Excel), a Salesforce Case import file, the daily status.

Every text cell that a spreadsheet would run as a formula (starting with =, +, -, @, tab or carriage return) gets
a leading apostrophe, so a customer name like '=HYPERLINK(...)' stays text.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

WORKLIST_COLUMNS = {
    "rank": "Rank", "assigned_collector": "Collector", "account_id": "Account ID", "account_name": "Account",
    "segment": "Segment", "next_action": "Next action", "action_template": "Template",
    "action_due_date": "Action due", "needs_approval": "Needs approval", "item_count": "Open items",
    "open_items": "Invoices", "exposure": "Open amount", "expected_loss": "Expected loss",
    "max_probability": "Max P(not recovered 30d)", "reason_1": "Reason 1", "reason_2": "Reason 2",
    "reason_3": "Reason 3", "is_reply_sla_breached": "Reply SLA breached", "reply_deadline": "Reply due by",
    "is_promise_due": "Promise due", "has_broken_promise": "Broken promise", "is_escalated": "Escalated",
    "escalation_reason": "Escalation reason",
}

SALESFORCE_CASE_COLUMNS = ["AccountId", "Subject", "Description", "Type", "Priority", "Status", "Origin", "Reason"]
CASE_TYPES = {"dispute": "Dispute", "payment_method_update": "Payment Method Update", "other": "Collections Escalation",
              "pricing_correction": "Pricing Correction", "tax_correction": "Tax Correction",
              "credit_correction": "Credit Correction"}


def neutralise(value):
    """Make a text cell inert in spreadsheets; other values pass through."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text cell neutralised (column names too)."""
    out = frame.copy()
    out.columns = [neutralise(str(c)) for c in out.columns]
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise).astype(object)
    return out


def worklist_sheet(accounts: pd.DataFrame, collector: str | None = None, top: int | None = None) -> pd.DataFrame:
    frame = accounts
    if collector:
        frame = frame[frame["assigned_collector"].str.casefold() == collector.casefold()]
    if top:
        frame = frame.head(top)
    frame = frame[[c for c in WORKLIST_COLUMNS if c in frame.columns]].rename(columns=WORKLIST_COLUMNS)
    return safe_frame(frame.reset_index(drop=True))


def write_sheet(frame: pd.DataFrame, path: Path, sheet_name: str = "Worklist") -> Path:
    """CSV or Excel by the file's extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".xlsx":
        with pd.ExcelWriter(path, engine="openpyxl") as writer:
            frame.to_excel(writer, sheet_name=sheet_name, index=False)
            sheet = writer.sheets[sheet_name]
            sheet.freeze_panes = "A2"
            for i, column in enumerate(frame.columns, start=1):
                width = min(60, max(len(str(column)), *(len(str(v)) for v in frame[column].head(200))) + 2)
                sheet.column_dimensions[sheet.cell(1, i).column_letter].width = width
    elif path.suffix.lower() == ".csv":
        frame.to_csv(path, index=False, lineterminator="\r\n")  # RFC 4180: a bare CR inside a cell stays quoted
    else:
        raise ValueError(f"{path.name}: export as .csv or .xlsx")
    return path


def salesforce_cases(cases: pd.DataFrame, as_of: str) -> pd.DataFrame:
    """Cases to create, in Salesforce Data Loader column names (Case object)."""
    frame = pd.DataFrame({
        "AccountId": cases["account_id"],
        "Subject": cases["subject"],
        "Description": cases["description"].fillna("") + f" (Dunning Desk, as of {as_of}"
                       + cases["invoice_id"].map(lambda i: f", invoice {i})" if isinstance(i, str) and i else ")"),
        "Type": cases["case_type"].map(CASE_TYPES).fillna("Other"),
        "Priority": cases["priority"],
        "Status": "New",
        "Origin": "Dunning Desk",
        "Reason": "Collections",
    }, columns=SALESFORCE_CASE_COLUMNS)
    return safe_frame(frame)


def daily_status_markdown(status: dict) -> str:
    """The leads' morning status as markdown."""
    lines = [f"# Collections status, {status['date']}", ""]
    for title, table in status["sections"]:
        lines += [f"## {title}", ""]
        if isinstance(table, str):
            lines += [table, ""]
            continue
        if table.empty:
            lines += ["Nothing to report.", ""]
            continue
        lines += [table.to_markdown(index=False) if _has_tabulate() else _markdown_table(table), ""]
    return "\n".join(lines)


def daily_status_html(status: dict) -> str:
    """The same status as a self-contained HTML page; every value is escaped."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>Collections status {status['date']}</title>",
             "<style>body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:4px 8px;"
             "text-align:left}th{background:#f3f3f3}</style></head><body>",
             f"<h1>Collections status, {html.escape(str(status['date']))}</h1>"]
    for title, table in status["sections"]:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if isinstance(table, str):
            parts.append(f"<p>{html.escape(table)}</p>")
        elif table.empty:
            parts.append("<p>Nothing to report.</p>")
        else:
            head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
            rows = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row) + "</tr>"
                           for row in table.itertuples(index=False))
            parts.append(f"<table><tr>{head}</tr>{rows}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def _markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(str(c) for c in table.columns) + " |"
    rule = "|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(_fmt(v).replace("|", "\\|") for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows])
