"""Bad input planted into a copy of a generated book, shared by the ingest tests and the end-to-end catalogue.

`corrupt(folder)` plants one bad row of every row-level kind (each with the file, row, column and reason ingest
must quarantine it under) and card numbers in free text and elsewhere.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from pipelines.contract import load_contract

CONTRACT = load_contract()
BAD_ACCOUNT_SEGMENT = "startup"  # not in the segment enum: the account and everything hanging off it is rejected

# Luhn-valid test card numbers, as agents paste them.
PAN_SPACED = "4111 1111 1111 1111"
PAN_DASHED = "5555-5555-5555-4444"
PAN_AMEX = "378282246310005"
PAN_DISCOVER = "6011111111111117"
PAN_PLAIN = "4012888888881881"
PAN_IN_ENUM = "4111-1111-1111-1111"


@dataclasses.dataclass(frozen=True)
class Plant:
    """A row planted in the book, and where and why ingest must quarantine it."""

    name: str
    entity: str
    source_row: int  # 1-based data row of the file
    column: str | None
    phrase: str


class BookEditor:
    """Edit a copy of a load folder row by row, keeping track of each row's number in its file."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.frames: dict[str, pd.DataFrame] = {}
        self.raw_lines: dict[str, list[str]] = {}

    def frame(self, entity: str) -> pd.DataFrame:
        if entity not in self.frames:
            self.frames[entity] = pd.read_csv(self.folder / f"{entity}.csv", dtype=str, keep_default_na=False)
        return self.frames[entity]

    def rows(self, entity: str) -> int:
        """Data rows the file will have (raw lines included)."""
        return len(self.frame(entity)) + len(self.raw_lines.get(entity, []))

    def set(self, entity: str, index: int, **values) -> int:
        frame = self.frame(entity)
        for column, value in values.items():
            frame.loc[index, column] = value
        return index + 1

    def append(self, entity: str, template: int = 0, **values) -> int:
        """A copy of row `template` with `values` changed, as the last data row; returns its row number."""
        assert not self.raw_lines.get(entity), "raw lines go last"
        frame = self.frame(entity)
        row = frame.iloc[template].copy()
        for column, value in values.items():
            row[column] = value
        self.frames[entity] = pd.concat([frame, row.to_frame().T], ignore_index=True)
        return len(self.frames[entity])

    def append_line(self, entity: str, line: str) -> int:
        self.frame(entity)
        self.raw_lines.setdefault(entity, []).append(line)
        return self.rows(entity)

    def save(self) -> None:
        for entity, frame in self.frames.items():
            path = self.folder / f"{entity}.csv"
            frame.to_csv(path, index=False, lineterminator="\n")
            if entity in self.raw_lines:
                with path.open("a", encoding="utf-8") as fh:
                    fh.writelines(line + "\n" for line in self.raw_lines[entity])


@dataclasses.dataclass
class Corrupted:
    folder: Path
    plants: list[Plant]
    bad_account: str
    rows: dict[str, int]  # data rows per file


def corrupt(folder: Path) -> Corrupted:
    """Plant one bad row of every kind (and card numbers) into a copy of the small book."""
    book = BookEditor(folder)
    plants: list[Plant] = []

    def plant(name, entity, row, column, phrase):
        plants.append(Plant(name, entity, row, column, phrase))

    inv = book.frame("invoices")
    first_day = pd.Timestamp(inv.loc[0, "invoice_date"])
    earlier = (first_day - pd.Timedelta(days=5)).strftime("%Y-%m-%d")
    plant("negative amount", "invoices", book.append("invoices", invoice_id="INV-P01", amount="-50.00"),
          "amount", "negative amount")
    plant("bad date", "invoices", book.append("invoices", invoice_id="INV-P02", invoice_date="2026-02-30"),
          "invoice_date", "not a valid date")
    plant("unknown account", "invoices", book.append("invoices", invoice_id="INV-P03", account_id="ACC-9999999"),
          "account_id", "not in accounts")
    plant("due date before invoice date", "invoices", book.append("invoices", invoice_id="INV-P04",
                                                                  due_date=earlier),
          "due_date", "due date before invoice date")
    plant("timestamp without offset", "invoices",
          book.append("invoices", invoice_id="INV-P05", posted_at=inv.loc[0, "posted_at"].rstrip("Z")),
          "posted_at", "without a UTC offset")
    plant("date where a timestamp belongs", "invoices",
          book.append("invoices", invoice_id="INV-P06", posted_at=inv.loc[0, "invoice_date"]),
          "posted_at", "without a UTC offset")
    plant("future timestamp (after manifest extracted_at)", "invoices",
          book.append("invoices", invoice_id="INV-P07", posted_at="2026-11-05T09:00:00Z"),
          "posted_at", "after the extract time")
    plant("unknown currency", "invoices", book.append("invoices", invoice_id="INV-P08", currency="JPY"),
          "currency", "unknown currency")
    plant("enum value not allowed", "invoices", book.append("invoices", invoice_id="INV-P09", status="draft"),
          "status", "unknown value status = draft (allowed: posted, void)")
    plant("card number in an enum column", "invoices",
          book.append("invoices", invoice_id="INV-P10", status=PAN_IN_ENUM),
          "status", "unknown value status = [card ****1111]")
    plant("missing required value", "invoices", book.append("invoices", invoice_id="INV-P11", invoice_date=""),
          "invoice_date", "missing required value")
    plant("absurd amount", "invoices", book.append("invoices", invoice_id="INV-P12", amount="5000000000.00"),
          "amount", "absurd amount")
    plant("duplicate id", "invoices", book.append("invoices", template=0), "invoice_id",
          "duplicate invoice_id (first seen at row 1)")

    # Cash applied twice to the same invoice from one payment: the second application exceeds the payment.
    apps, pay = book.frame("payment_applications"), book.frame("payments")
    app = apps.iloc[0]
    amount = pay.loc[pay["payment_id"] == app["payment_id"], "amount"].iloc[0]
    later = (pd.Timestamp(app["applied_at"]) + pd.Timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    plant("applications exceeding payment", "payment_applications",
          book.append("payment_applications", template=0, application_id="APP-P01", applied_amount=amount,
                      applied_at=later),
          "applied_amount", "applications exceed payment amount")

    # Card numbers in free text, in a non-free-text column and inside a row that is quarantined.
    out = book.frame("outreach")
    accounts = book.frame("accounts")
    book.set("accounts", 1, account_name=f"Acme {PAN_SPACED} Holdings")
    book.set("outreach", 2, note=f"Customer read out {PAN_DASHED} exp 12/27, cvv 123")
    book.set("payments", 3, reference_text=f"remit: card {PAN_AMEX}.")
    book.set("invoices", 4, source_system=PAN_DISCOVER)
    plant("enum value not allowed (with a card number in its note)", "outreach",
          book.append("outreach", template=0, touch_id="TCH-P01", channel="fax", note=f"card {PAN_PLAIN} ok"),
          "channel", "unknown value channel = fax")
    plant("duplicate id", "outreach", book.append("outreach", template=0), "touch_id",
          "duplicate touch_id (first seen at row 1)")
    plant("wrong number of fields", "outreach", book.append_line("outreach", "TCH-P02,ACC-0000001,too,few"),
          None, "row has 4 fields, the header has 10")

    # An account rejected on its own: every row that hangs off it becomes an orphan.
    used = {app["payment_id"], pay.loc[3, "payment_id"]}
    candidates = pay.loc[~pay["payment_id"].isin(used), "account_id"].value_counts()
    bad_account = next(a for a in candidates.index if a != accounts.loc[1, "account_id"]
                       and a not in set(out.loc[:2, "account_id"]) and a != inv.loc[4, "account_id"]
                       and a != inv.loc[0, "account_id"])
    index = int(accounts.index[accounts["account_id"] == bad_account][0])
    plant("enum value not allowed (account with children)", "accounts",
          book.set("accounts", index, segment=BAD_ACCOUNT_SEGMENT), "segment", f"= {BAD_ACCOUNT_SEGMENT}")
    book.save()
    rows = {e.name: data_rows(folder / f"{e.name}.csv") for e in CONTRACT.entities}
    return Corrupted(folder, plants, bad_account, rows)


def data_rows(path: Path) -> int:
    """Records in a CSV without quoted newlines: lines minus the header."""
    text = path.read_text(encoding="utf-8")
    assert "\r" not in text
    return text.count("\n") - 1


def assert_quarantined(plants: list[Plant], quarantine: pd.DataFrame) -> None:
    """Each planted row is in the quarantine exactly once, with its file, row, column and reason."""
    for p in plants:
        hit = quarantine[(quarantine["entity"] == p.entity) & (quarantine["source_row"] == p.source_row)]
        assert len(hit) == 1, f"{p.name}: {p.entity} row {p.source_row} not quarantined exactly once"
        row = hit.iloc[0]
        assert row["file"] == f"{p.entity}.csv", p.name
        assert (pd.isna(row["column_name"]) if p.column is None else row["column_name"] == p.column), (
            f"{p.name}: {row['column_name']} - {row['reason']}")
        assert p.phrase in row["reason"], f"{p.name}: {row['reason']!r}"
